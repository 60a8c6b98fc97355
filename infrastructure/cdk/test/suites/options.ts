/* The shared stack and the optional features: blue/green, static site, DNS, deploy role, e-mail. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Template } from 'aws-cdk-lib/assertions';
import { ALL_OPTIONS_CONTEXT, allOptionTemplates, attributes, build, defaultTemplates, only, REPO_ROOT, resources } from '../helpers';

const d = defaultTemplates();
const o = allOptionTemplates();

describe('shared stack', () => {
  test('ECR repository "timewarp": scan on push, immutable tags, lifecycle rules, retained except after a failed create', () => {
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
    const raw = (resources(d.shared, 'AWS::ECR::Repository') as any)[repo.id];
    assert.equal(raw.DeletionPolicy, 'RetainExceptOnCreate');
    assert.equal(raw.UpdateReplacePolicy, 'Retain');
  });

  test('no deploy role unless a GitHub repository is named', () => {
    d.shared.resourceCountIs('AWS::IAM::Role', 0);
    d.shared.resourceCountIs('AWS::IAM::OIDCProvider', 0);
  });

  const roles = () => {
    const all = Object.entries(resources(o.shared, 'AWS::IAM::Role'));
    const byStage = (stage: string) => {
      const hit = all.find(([id]) => id.startsWith(`GithubDeployRole${stage[0].toUpperCase()}${stage.slice(1)}`));
      assert.ok(hit, `a deploy role for ${stage}`);
      const statements = Object.values(resources(o.shared, 'AWS::IAM::Policy'))
        .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === hit![0]))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      return { id: hit![0], props: hit![1].Properties, statements };
    };
    assert.equal(all.length, 2, 'one role per stage');
    return { staging: byStage('staging'), production: byStage('production') };
  };

  test("one deploy role per stage, each trusting only its own GitHub environment on main", () => {
    const r = roles();
    for (const stage of ['staging', 'production'] as const) {
      const [trust, ...rest] = r[stage].props.AssumeRolePolicyDocument.Statement;
      assert.deepEqual(rest, []);
      assert.equal(trust.Action, 'sts:AssumeRoleWithWebIdentity');
      assert.deepEqual(trust.Condition, {
        StringEquals: {
          'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com',
          // exactly one subject, a string: no list, no wildcard, no StringLike
          'token.actions.githubusercontent.com:sub': `repo:example-org/timewarp:environment:${stage}:ref:refs/heads/main`,
        },
      });
      assert.equal(r[stage].props.MaxSessionDuration, 3600);
    }
  });

  test('the account\'s OIDC provider is imported by default (one per account); created only when asked', () => {
    o.shared.resourceCountIs('AWS::IAM::OIDCProvider', 0);
    const [trust] = roles().staging.props.AssumeRolePolicyDocument.Statement;
    assert.deepEqual(trust.Principal.Federated, {
      'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':iam::', { Ref: 'AWS::AccountId' }, ':oidc-provider/token.actions.githubusercontent.com']],
    });
    const created = Template.fromStack(build({ ...ALL_OPTIONS_CONTEXT, createGithubOidcProvider: 'true' }, false).shared);
    const provider = Object.values(resources(created, 'AWS::IAM::OIDCProvider'));
    assert.equal(provider.length, 1);
    assert.equal(provider[0].Properties.Url, 'https://token.actions.githubusercontent.com');
    assert.deepEqual(provider[0].Properties.ClientIdList, ['sts.amazonaws.com']);
    assert.equal(provider[0].DeletionPolicy, 'RetainExceptOnCreate');
    const given = Template.fromStack(
      build({ ...ALL_OPTIONS_CONTEXT, githubOidcProviderArn: 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com' }, false).shared,
    );
    const [role] = Object.values(resources(given, 'AWS::IAM::Role'));
    assert.equal(role.Properties.AssumeRolePolicyDocument.Statement[0].Principal.Federated, 'arn:aws:iam::123456789012:oidc-provider/token.actions.githubusercontent.com');
    assert.throws(() => build({ ...ALL_OPTIONS_CONTEXT, createGithubOidcProvider: 'yes' }, false), /createGithubOidcProvider must be true or false/);
  });

  test('each role reaches its own stage only: no grant names the other stage or a timewarp-* wildcard', () => {
    const r = roles();
    for (const [stage, other] of [['staging', 'production'], ['production', 'staging']] as const) {
      const text = JSON.stringify(r[stage].statements);
      assert.ok(!text.includes(other), `${stage} role mentions ${other}`);
      assert.ok(!/timewarp-\*|TimeWarp-\*/.test(text), `${stage} role has no cross-stage wildcard`);
      const sid = (id: string) => r[stage].statements.find((s: any) => s.Sid === id);
      assert.match(JSON.stringify(sid('UpdateService').Resource), new RegExp(`:service/timewarp-${stage}/\\*`));
      assert.match(JSON.stringify(sid('RunMigrations').Resource), new RegExp(`:task-definition/timewarp-${stage}-migrate:\\*`));
      assert.match(JSON.stringify(sid('RunMigrations').Condition.ArnEquals['ecs:cluster']), new RegExp(`:cluster/timewarp-${stage}"`));
      assert.match(JSON.stringify(sid('ReadStackOutputs').Resource), new RegExp(`:stack/TimeWarp-${stage}/\\*`));
      assert.match(JSON.stringify(sid('PassTaskRoles').Resource), new RegExp(`:role/TimeWarp-${stage}-\\*`));
      assert.deepEqual(sid('PassTaskRoles').Condition, { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } });
      assert.deepEqual(sid('TagNewRevisions').Condition, { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } });
    }
  });

  test('deploy roles: what deploy.sh needs (ListTaskDefinitions for rollback included), nothing broader; only staging pushes', () => {
    const r = roles();
    for (const stage of ['staging', 'production'] as const) {
      const actions = r[stage].statements.flatMap((s: any): string[] => [].concat(s.Action)).sort();
      for (const forbidden of ['iam:*', 'ecs:*', 'ecr:*', '*', 'ecs:DeleteService', 'rds:*', 'secretsmanager:GetSecretValue']) {
        assert.ok(!actions.includes(forbidden), `${forbidden} is not granted`);
      }
      for (const needed of [
        'ecr:BatchGetImage',
        'ecr:DescribeImages',
        'ecr:DescribeRepositories',
        'ecs:RunTask',
        'ecs:DescribeTasks',
        'ecs:UpdateService',
        'ecs:DescribeServices',
        'ecs:RegisterTaskDefinition',
        'ecs:DescribeTaskDefinition',
        'ecs:ListTaskDefinitions',
        'ecs:TagResource',
        'iam:PassRole',
        'logs:GetLogEvents',
        'cloudformation:DescribeStacks',
      ]) {
        assert.ok(actions.includes(needed), `${stage}: ${needed} is granted`);
      }
      assert.equal(actions.includes('ecr:PutImage'), stage === 'staging', `${stage} may push: ${stage === 'staging'}`);
      const wildcard = r[stage].statements.filter((s: any) => s.Resource === '*').flatMap((s: any): string[] => [].concat(s.Action)).sort();
      assert.deepEqual(wildcard, ['ecr:GetAuthorizationToken', 'ecs:DescribeTaskDefinition', 'ecs:ListTaskDefinitions', 'ecs:RegisterTaskDefinition']);
    }
  });

  test('every AWS call deploy.sh and migrate.sh make is granted to the deploy roles', () => {
    const map: Record<string, string> = {
      'cloudformation describe-stacks': 'cloudformation:DescribeStacks',
      'ecr describe-repositories': 'ecr:DescribeRepositories',
      'ecr describe-images': 'ecr:DescribeImages',
      'ecr get-login-password': 'ecr:GetAuthorizationToken',
      'ecs describe-task-definition': 'ecs:DescribeTaskDefinition',
      'ecs register-task-definition': 'ecs:RegisterTaskDefinition',
      'ecs list-task-definitions': 'ecs:ListTaskDefinitions',
      'ecs run-task': 'ecs:RunTask',
      'ecs describe-tasks': 'ecs:DescribeTasks',
      'ecs wait': 'ecs:DescribeServices',
      'ecs update-service': 'ecs:UpdateService',
      'ecs describe-services': 'ecs:DescribeServices',
      'logs get-log-events': 'logs:GetLogEvents',
    };
    const scripts = ['deploy.sh', 'migrate.sh'].map((f) => readFileSync(join(REPO_ROOT, 'scripts', f), 'utf8')).join('\n');
    const calls = new Set([...scripts.matchAll(/aws_ (\w+) ([a-z-]+)/g)].map((m) => `${m[1]} ${m[2]}`));
    assert.ok(calls.size >= 10, [...calls].join(', '));
    const granted = new Set(roles().production.statements.flatMap((s: any): string[] => [].concat(s.Action)));
    for (const call of calls) {
      assert.ok(map[call], `known call: ${call}`);
      assert.ok(granted.has(map[call]), `${call} needs ${map[call]}`);
    }
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
      assert.equal(tg.HealthCheckPath, '/health/live');
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
