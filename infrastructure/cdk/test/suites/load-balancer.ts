/* ALB: HTTPS with the ACM certificate, HTTP -> HTTPS, target health check, timing, access logs. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { attributes, CERT_ARN, defaultTemplates, idByPath, only, resources, STAGE_NAMES } from '../helpers';

const t = defaultTemplates();

function listener(tpl: any, port: number): any {
  const hits = Object.entries(resources(tpl, 'AWS::ElasticLoadBalancingV2::Listener')).filter(([, l]) => l.Properties.Port === port);
  assert.equal(hits.length, 1, `one listener on port ${port}`);
  return { id: hits[0][0], ...hits[0][1].Properties };
}

describe('load balancer', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];
    const prod = stage === 'production';
    const domain = prod ? 'timewarp.example.com' : 'staging.timewarp.example.com';
    const alb = only(tpl, 'AWS::ElasticLoadBalancingV2::LoadBalancer');
    const attrs = attributes(alb.props.LoadBalancerAttributes);

    test(`${stage}: internet-facing, in the public subnets, behind its own security group`, () => {
      assert.equal(alb.props.Scheme, 'internet-facing');
      assert.equal(alb.props.Type, 'application');
      const publicSubnets = Object.entries(resources(tpl, 'AWS::EC2::Subnet'))
        .filter(([, s]) => s.Properties.Tags.some((x: any) => x.Key === 'aws-cdk:subnet-type' && x.Value === 'Public'))
        .map(([id]) => ({ Ref: id }));
      assert.deepEqual(alb.props.Subnets, publicSubnets);
      assert.deepEqual(alb.props.SecurityGroups, [{ 'Fn::GetAtt': [idByPath(tpl, 'LoadBalancerSecurityGroup/Resource'), 'GroupId'] }]);
    });

    test(`${stage}: idle timeout 20 s, shorter than the server's 25 s keep-alive`, () => {
      assert.equal(attrs['idle_timeout.timeout_seconds'], '20');
      const task = Object.values(resources(tpl, 'AWS::ECS::TaskDefinition')).find((r) => r.Properties.Family.endsWith('-serve'))!;
      const env = Object.fromEntries(task.Properties.ContainerDefinitions[0].Environment.map((e: any) => [e.Name, e.Value]));
      assert.ok(Number(attrs['idle_timeout.timeout_seconds']) < Number(env.TIMEWARP_IDLE_TIMEOUT));
    });

    test(`${stage}: drops invalid headers; deletion protection ${prod ? 'on' : 'off'}`, () => {
      assert.equal(attrs['routing.http.drop_invalid_header_fields.enabled'], 'true');
      assert.equal(attrs['deletion_protection.enabled'], String(prod));
    });

    test(`${stage}: access logs to an encrypted, private, TLS-only bucket with expiry`, () => {
      assert.equal(attrs['access_logs.s3.enabled'], 'true');
      assert.equal(attrs['access_logs.s3.prefix'], 'alb');
      const bucketId = idByPath(tpl, 'AccessLogBucket/Resource');
      assert.deepEqual(attrs['access_logs.s3.bucket'], { Ref: bucketId });
      const bucket = (resources(tpl, 'AWS::S3::Bucket') as any)[bucketId].Properties;
      assert.deepEqual(bucket.BucketEncryption.ServerSideEncryptionConfiguration, [
        { ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } },
      ]);
      assert.deepEqual(bucket.PublicAccessBlockConfiguration, {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      assert.equal(bucket.LifecycleConfiguration.Rules[0].ExpirationInDays, prod ? 90 : 30);
      const policy = Object.values(resources(tpl, 'AWS::S3::BucketPolicy')).find((p) => p.Properties.Bucket.Ref === bucketId)!;
      const statements = policy.Properties.PolicyDocument.Statement;
      assert.ok(statements.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
      const writers = statements.filter((s: any) => s.Action === 's3:PutObject');
      assert.equal(writers.length, 2, 'regional ELB account (older regions) and the log-delivery service (newer regions)');
      assert.deepEqual(writers[1].Principal, { Service: 'logdelivery.elasticloadbalancing.amazonaws.com' });
      assert.match(JSON.stringify(writers[0].Principal), /ElbLogDeliveryAccount/);
      const mapping = tpl.toJSON().Mappings.ElbLogDeliveryAccount;
      assert.equal(mapping['us-east-1'].account, '127311923021');
    });

    test(`${stage}: HTTP listener on 80 only redirects to HTTPS 443 (301)`, () => {
      const http = listener(tpl, 80);
      assert.equal(http.Protocol, 'HTTP');
      assert.deepEqual(http.DefaultActions, [{ Type: 'redirect', RedirectConfig: { Protocol: 'HTTPS', Port: '443', StatusCode: 'HTTP_301' } }]);
    });

    test(`${stage}: HTTPS listener on 443 with the ACM certificate and a TLS 1.2+ policy`, () => {
      const https = listener(tpl, 443);
      assert.equal(https.Protocol, 'HTTPS');
      assert.deepEqual(https.Certificates, [{ CertificateArn: CERT_ARN }]);
      assert.match(https.SslPolicy, /^ELBSecurityPolicy-TLS13-1-2/);
      assert.equal(https.DefaultActions[0].Type, 'fixed-response', 'unknown host names never reach the tasks');
      assert.equal(https.DefaultActions[0].FixedResponseConfig.StatusCode, '400');
      assert.equal(https.DefaultActions[0].FixedResponseConfig.ContentType, 'application/json');
      const body = JSON.parse(https.DefaultActions[0].FixedResponseConfig.MessageBody);
      assert.equal(body.error.code, 'BAD_REQUEST', 'same error shape as the API');
      const rule = only(tpl, 'AWS::ElasticLoadBalancingV2::ListenerRule').props;
      assert.deepEqual(rule.ListenerArn, { Ref: https.id });
      assert.deepEqual(rule.Conditions, [{ Field: 'host-header', HostHeaderConfig: { Values: [domain] } }]);
      assert.deepEqual(rule.Actions, [{ Type: 'forward', TargetGroupArn: { Ref: only(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup').id } }]);
    });

    test(`${stage}: target group: IP targets on 8000, /health/live every 10 s, timeout 5 s, thresholds 2/2, deregistration 30 s`, () => {
      const tg = only(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup').props;
      assert.equal(tg.TargetType, 'ip');
      assert.equal(tg.Protocol, 'HTTP');
      assert.equal(tg.Port, 8000);
      assert.equal(tg.HealthCheckPath, '/health/live', 'the process, not the database: a failover replaces no task');
      assert.equal(tg.HealthCheckIntervalSeconds, 10);
      assert.equal(tg.HealthCheckTimeoutSeconds, 5);
      assert.equal(tg.HealthyThresholdCount, 2);
      assert.equal(tg.UnhealthyThresholdCount, 2);
      assert.deepEqual(tg.Matcher, { HttpCode: '200' });
      assert.equal(attributes(tg.TargetGroupAttributes)['deregistration_delay.timeout_seconds'], '30');
    });
  }
});
