/* The shared stack and the optional features: blue/green, static site, DNS, deploy role, e-mail. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { allOptionTemplates, attributes, defaultTemplates, only, resources } from '../helpers';

const d = defaultTemplates();
const o = allOptionTemplates();

describe('shared stack', () => {
  test('ECR repository "timewarp": scan on push, immutable tags, lifecycle rules, retained', () => {
    const repo = only(d.shared, 'AWS::ECR::Repository');
    assert.equal(repo.props.RepositoryName, 'timewarp');
    assert.deepEqual(repo.props.ImageScanningConfiguration, { ScanOnPush: true });
    assert.equal(repo.props.ImageTagMutability, 'IMMUTABLE');
    const rules = JSON.parse(repo.props.LifecyclePolicy.LifecyclePolicyText).rules;
    assert.deepEqual(
      rules.map((r: any) => [r.selection.tagStatus, r.selection.countType, r.selection.countNumber]),
      [
        ['untagged', 'sinceImagePushed', 7],
        ['any', 'imageCountMoreThan', 50],
      ],
    );
    assert.equal((resources(d.shared, 'AWS::ECR::Repository') as any)[repo.id].DeletionPolicy, 'Retain');
  });

  test('no deploy role unless a GitHub repository is named', () => {
    d.shared.resourceCountIs('AWS::IAM::Role', 0);
    d.shared.resourceCountIs('AWS::IAM::OIDCProvider', 0);
  });

  test('GitHub deploy role: OIDC, only this repository\'s staging/production environments', () => {
    const provider = only(o.shared, 'AWS::IAM::OIDCProvider').props;
    assert.equal(provider.Url, 'https://token.actions.githubusercontent.com');
    assert.deepEqual(provider.ClientIdList, ['sts.amazonaws.com']);
    const role = only(o.shared, 'AWS::IAM::Role').props;
    const [trust] = role.AssumeRolePolicyDocument.Statement;
    assert.equal(trust.Action, 'sts:AssumeRoleWithWebIdentity');
    assert.deepEqual(trust.Condition.StringEquals, {
      'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
      'token.actions.githubusercontent.com:sub': [
        'repo:example-org/timewarp:environment:staging',
        'repo:example-org/timewarp:environment:production',
      ],
    });
    assert.equal(role.MaxSessionDuration, 3600);
  });

  test('GitHub deploy role: push images, run migrate tasks, update services; nothing broader', () => {
    const statements = only(o.shared, 'AWS::IAM::Policy').props.PolicyDocument.Statement;
    const actions = statements.flatMap((s: any) => [].concat(s.Action)).sort();
    for (const forbidden of ['iam:*', 'ecs:*', 'ecr:*', '*', 'ecs:DeleteService', 'rds:*', 'secretsmanager:GetSecretValue']) {
      assert.ok(!actions.includes(forbidden), `${forbidden} is not granted`);
    }
    for (const needed of [
      'ecr:PutImage',
      'ecr:DescribeImages',
      'ecr:DescribeRepositories',
      'ecs:RunTask',
      'ecs:UpdateService',
      'ecs:RegisterTaskDefinition',
      'ecs:TagResource',
      'iam:PassRole',
      'cloudformation:DescribeStacks',
    ]) {
      assert.ok(actions.includes(needed), `${needed} is granted`);
    }
    const tag = statements.find((s: any) => s.Sid === 'TagNewRevisions');
    assert.deepEqual(tag.Condition, { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } });
    const pass = statements.find((s: any) => s.Sid === 'PassTaskRoles');
    assert.deepEqual(pass.Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
    const wildcard = statements.filter((s: any) => s.Resource === '*').flatMap((s: any) => [].concat(s.Action)).sort();
    assert.deepEqual(wildcard, ['ecr:GetAuthorizationToken', 'ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition']);
  });
});

describe('options', () => {
  test('blue/green (staging here): ECS built-in BLUE_GREEN with a green target group on the production rule', () => {
    const svc = only(o.staging, 'AWS::ECS::Service').props;
    assert.equal(svc.DeploymentConfiguration.Strategy, 'BLUE_GREEN');
    assert.equal(svc.DeploymentConfiguration.BakeTimeInMinutes, 5);
    assert.deepEqual(svc.DeploymentConfiguration.DeploymentCircuitBreaker, { Enable: true, Rollback: true });
    const groups = Object.keys(resources(o.staging, 'AWS::ElasticLoadBalancingV2::TargetGroup'));
    assert.equal(groups.length, 2);
    const [lb] = svc.LoadBalancers;
    const blue = lb.TargetGroupArn.Ref;
    const green = groups.find((g) => g !== blue)!;
    assert.deepEqual(lb.AdvancedConfiguration.AlternateTargetGroupArn, { Ref: green });
    const rule = only(o.staging, 'AWS::ElasticLoadBalancingV2::ListenerRule');
    assert.deepEqual(lb.AdvancedConfiguration.ProductionListenerRule, { Ref: rule.id });
    assert.ok(lb.AdvancedConfiguration.RoleArn);
    const weights = rule.props.Actions[0].ForwardConfig.TargetGroups.map((g: any) => [g.TargetGroupArn.Ref, g.Weight]);
    assert.deepEqual(weights, [
      [blue, 100],
      [green, 0],
    ]);
    // ECS refuses listeners that mix forward and fixed-response actions in blue/green mode.
    const https = Object.values(resources(o.staging, 'AWS::ElasticLoadBalancingV2::Listener')).find((l) => l.Properties.Port === 443)!;
    assert.equal(https.Properties.DefaultActions[0].Type, 'forward');
    const tgs = Object.values(resources(o.staging, 'AWS::ElasticLoadBalancingV2::TargetGroup')).map((g) => g.Properties);
    for (const tg of tgs) {
      assert.equal(tg.HealthCheckPath, '/health/');
      assert.equal(attributes(tg.TargetGroupAttributes)['deregistration_delay.timeout_seconds'], '30');
    }
  });

  test('production stays on rolling deploys unless asked', () => {
    assert.equal(only(o.production, 'AWS::ECS::Service').props.DeploymentConfiguration.Strategy, 'ROLLING');
  });

  test('static site: private versioned bucket reachable only through CloudFront (OAC), HTTPS only', () => {
    const buckets = Object.entries(resources(o.staging, 'AWS::S3::Bucket'));
    assert.equal(buckets.length, 2, 'access-log bucket + static bucket');
    const [staticId, staticBucket] = buckets.find(([, b]) => b.Properties.VersioningConfiguration)!;
    assert.equal(staticBucket.Properties.VersioningConfiguration.Status, 'Enabled');
    assert.equal(staticBucket.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy, true);
    assert.equal(staticBucket.Properties.LoggingConfiguration.LogFilePrefix, 'static-s3/');
    const dist = only(o.staging, 'AWS::CloudFront::Distribution').props.DistributionConfig;
    assert.equal(dist.DefaultCacheBehavior.ViewerProtocolPolicy, 'redirect-to-https');
    assert.equal(dist.DefaultRootObject, 'index.html');
    assert.ok(dist.Origins[0].OriginAccessControlId, 'origin access control, not a public bucket');
    only(o.staging, 'AWS::CloudFront::OriginAccessControl');
    const policy = Object.values(resources(o.staging, 'AWS::S3::BucketPolicy')).find((p) => p.Properties.Bucket.Ref === staticId)!;
    const read = policy.Properties.PolicyDocument.Statement.find((s: any) => s.Action === 's3:GetObject');
    assert.deepEqual(read.Principal, { Service: 'cloudfront.amazonaws.com' });
    d.staging.resourceCountIs('AWS::CloudFront::Distribution', 0);
  });

  test('Route 53 alias for the domain name when a hosted zone is given', () => {
    const record = only(o.production, 'AWS::Route53::RecordSet').props;
    assert.equal(record.Name, 'timewarp.example.com.');
    assert.equal(record.Type, 'A');
    assert.equal(record.HostedZoneId, 'Z0123456789ABCDEFGHIJ');
    assert.match(JSON.stringify(record.AliasTarget.DNSName), /DNSName/);
    d.production.resourceCountIs('AWS::Route53::RecordSet', 0);
  });

  test('alarm e-mail subscription when an address is given', () => {
    const sub = only(o.production, 'AWS::SNS::Subscription').props;
    assert.equal(sub.Protocol, 'email');
    assert.equal(sub.Endpoint, 'oncall@example.com');
  });
});
