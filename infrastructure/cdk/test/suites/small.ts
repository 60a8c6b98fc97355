/*
 * The small profile (an MVP at ≤ $45/month, docs/DEPLOYMENT.md): one task of Fargate's smallest
 * size in one AZ, no autoscaling, db.t4g.micro single-AZ, no NAT gateway (tasks in public subnets
 * that accept only the ALB), one Secrets Manager secret (the master) and SSM SecureStrings for the
 * rest, no customer-managed KMS key, no Container Insights, the ten free alarm metrics; every API
 * guarantee of the standard profile (health checks, deploy alarms, container settings).
 * The parameter generator's code is run here too, against stand-ins for the AWS SDK and fetch.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { alarmMetrics, BASE_CONTEXT, build, containerEnv, defaultTemplates, ESSENTIAL_ALARMS, idByPath, only, resources, ROOT } from '../helpers';

const small = Template.fromStack(build({ ...BASE_CONTEXT, 'production:profile': 'small' }, false).stages.production!);
const standard = defaultTemplates().production;
const subnetsOf = (tpl: Template, type: string) =>
  Object.entries(resources(tpl, 'AWS::EC2::Subnet'))
    .filter(([, s]) => s.Properties.Tags.some((x: any) => x.Key === 'aws-cdk:subnet-type' && x.Value === type))
    .map(([id, s]) => ({ id, az: JSON.stringify(s.Properties.AvailabilityZone) }));

const task = (tpl: Template, family: string) =>
  Object.values(resources(tpl, 'AWS::ECS::TaskDefinition')).find((r) => r.Properties.Family.endsWith(family))!.Properties.ContainerDefinitions[0];
const serve = (tpl: Template) => task(tpl, '-serve');
const migrate = (tpl: Template) => task(tpl, '-migrate');
const names = (list: { Name: string }[]) => list.map((x) => x.Name).sort();

describe('small profile', () => {
  test('no NAT gateway and no private subnets with egress; public + isolated subnets in the two AZs an ALB and RDS need', () => {
    small.resourceCountIs('AWS::EC2::NatGateway', 0);
    assert.equal(subnetsOf(small, 'Private').length, 0);
    assert.equal(subnetsOf(small, 'Public').length, 2);
    assert.equal(subnetsOf(small, 'Isolated').length, 2);
    small.resourceCountIs('AWS::EC2::EIP', 0);
  });

  test('one task of the smallest Fargate size (256 CPU / 512 MiB), on Fargate Spot, in ONE public subnet with a public IP', () => {
    const svc = only(small, 'AWS::ECS::Service').props;
    assert.equal(svc.DesiredCount, 1);
    const net = svc.NetworkConfiguration.AwsvpcConfiguration;
    assert.equal(net.AssignPublicIp, 'ENABLED');
    const [firstPublic] = subnetsOf(small, 'Public');
    assert.deepEqual(net.Subnets, [{ Ref: firstPublic.id }], 'a single AZ');
    // Spot only (no on-demand base): ECS replaces an interrupted task; the cluster has both providers.
    assert.deepEqual(svc.CapacityProviderStrategy, [{ CapacityProvider: 'FARGATE_SPOT', Weight: 1 }]);
    const providers = only(small, 'AWS::ECS::ClusterCapacityProviderAssociations').props;
    assert.deepEqual([...providers.CapacityProviders].sort(), ['FARGATE', 'FARGATE_SPOT']);
    // the deploy still starts the new task before it stops the old one: no gap from a release
    assert.deepEqual([svc.DeploymentConfiguration.MinimumHealthyPercent, svc.DeploymentConfiguration.MaximumPercent], [100, 200]);
    for (const td of Object.values(resources(small, 'AWS::ECS::TaskDefinition'))) {
      assert.equal(td.Properties.Cpu, '256');
      assert.equal(td.Properties.Memory, '512');
    }
    // one task, no autoscaling: its target-tracking alarms would spend CloudWatch's free ten
    small.resourceCountIs('AWS::ApplicationAutoScaling::ScalableTarget', 0);
    small.resourceCountIs('AWS::ApplicationAutoScaling::ScalingPolicy', 0);
  });

  test('the public tasks accept traffic only from the ALB security group', () => {
    const svcSg = idByPath(small, 'ServiceSecurityGroup/Resource');
    const albSg = idByPath(small, 'LoadBalancerSecurityGroup/Resource');
    const inline = (resources(small, 'AWS::EC2::SecurityGroup') as any)[svcSg].Properties.SecurityGroupIngress ?? [];
    assert.deepEqual(inline, [], 'no CIDR rule on the task group');
    const ingress = Object.values(resources(small, 'AWS::EC2::SecurityGroupIngress'))
      .map((r) => r.Properties)
      .filter((r) => r.GroupId['Fn::GetAtt'][0] === svcSg);
    assert.deepEqual(
      ingress.map((r) => [r.IpProtocol, r.FromPort, r.ToPort, r.SourceSecurityGroupId['Fn::GetAtt'][0]]),
      [['tcp', 8000, 8000, albSg]],
    );
  });

  test('RDS db.t4g.micro, single-AZ, in the tasks\' AZ, still private, encrypted and backed up', () => {
    const db = only(small, 'AWS::RDS::DBInstance').props;
    assert.equal(db.DBInstanceClass, 'db.t4g.micro');
    assert.equal(db.MultiAZ, false);
    assert.equal(db.PubliclyAccessible, false);
    assert.equal(db.StorageEncrypted, true);
    assert.equal(db.AllocatedStorage, '20');
    assert.ok(db.BackupRetentionPeriod >= 7);
    const [firstPublic] = subnetsOf(small, 'Public');
    assert.equal(JSON.stringify(db.AvailabilityZone), firstPublic.az);
  });

  test('one-off tasks run where the service runs (outputs read by migrate.sh)', () => {
    const outputs = small.toJSON().Outputs;
    assert.equal(outputs.TaskAssignPublicIp.Value, 'ENABLED');
    assert.equal(standard.toJSON().Outputs.TaskAssignPublicIp.Value, 'DISABLED');
    const [firstPublic] = subnetsOf(small, 'Public');
    assert.deepEqual(outputs.TaskSubnetIds.Value, { Ref: firstPublic.id });
  });

  test('keeps every guarantee but Multi-AZ: health checks, circuit breaker, deploy alarms, container settings, dashboard, queries', () => {
    const tg = (tpl: Template) => {
      const p = only(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup').props;
      return [p.HealthCheckPath, p.HealthCheckIntervalSeconds, p.UnhealthyThresholdCount, p.TargetGroupAttributes];
    };
    assert.deepEqual(tg(small), tg(standard));
    const svc = (tpl: Template) => only(tpl, 'AWS::ECS::Service').props.DeploymentConfiguration;
    assert.deepEqual(svc(small).DeploymentCircuitBreaker, { Enable: true, Rollback: true });
    assert.equal(svc(small).Alarms.Rollback, true);
    assert.deepEqual(svc(small).Alarms.AlarmNames, svc(standard).Alarms.AlarmNames);
    for (const key of ['HealthCheck', 'StopTimeout', 'ReadonlyRootFilesystem', 'User', 'Ulimits']) {
      assert.deepEqual(JSON.stringify(serve(small)[key]), JSON.stringify(serve(standard)[key]), key);
    }
    // the same settings, plus the fixed name of the service user (a secret in the standard profile)
    const env = (tpl: Template) => JSON.stringify(containerEnv(serve(tpl))).replace(/Vpc\w+/g, '');
    const { DB_USER, ...rest } = containerEnv(serve(small)) as Record<string, unknown>;
    assert.equal(DB_USER, 'timewarp_app');
    assert.equal(JSON.stringify(rest).replace(/Vpc\w+/g, ''), env(standard));
    assert.deepEqual(names(serve(small).Secrets), ['DB_PASSWORD', 'SECRET_KEY']);
    only(small, 'AWS::CloudWatch::Dashboard');
    assert.equal(Object.keys(resources(small, 'AWS::Logs::QueryDefinition')).length, 3);
  });

  test('CloudWatch alarms: the essential set, 10 alarm metrics (the always-free allowance), each paging', () => {
    const alarms = Object.values(resources(small, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties);
    assert.deepEqual(alarms.map((a) => a.AlarmName.replace('timewarp-production-', '')).sort(), ESSENTIAL_ALARMS);
    assert.equal(alarmMetrics(small), 10);
    assert.ok(alarmMetrics(standard) > 10, 'the standard profile pays for more');
    const topic = only(small, 'AWS::SNS::Topic').id;
    for (const a of alarms) {
      assert.deepEqual(a.AlarmActions, [{ Ref: topic }], a.AlarmName);
      assert.deepEqual(a.OKActions, [{ Ref: topic }], a.AlarmName);
    }
    // no alarm reads a metric that is not published (Container Insights is off)
    assert.doesNotMatch(JSON.stringify(alarms), /ContainerInsights/);
    // "no healthy task" still alarms without Insights: minCount - healthy, a missing metric as 0
    const healthy = alarms.find((a) => a.AlarmName.endsWith('healthy-hosts-below-desired'))!;
    const expr = healthy.Metrics.find((m: any) => m.Expression).Expression;
    assert.equal(expr, '1 - FILL(healthy, 0)');
    assert.equal(healthy.Threshold, 1);
    assert.equal(healthy.Metrics.filter((m: any) => m.MetricStat).length, 1);
    // scaling brought back by hand adds its own alarms (2 per policy): docs/DEPLOYMENT.md prices them
    const scaled = Template.fromStack(build({ ...BASE_CONTEXT, 'production:profile': 'small', 'production:maxCount': '2' }, false).stages.production!);
    assert.equal(alarmMetrics(scaled), 14);
  });

  test('secrets: one Secrets Manager secret (the RDS master), the service password and SECRET_KEY as generated SSM SecureStrings', () => {
    const secrets = Object.keys(resources(small, 'AWS::SecretsManager::Secret'));
    assert.deepEqual(secrets, [idByPath(small, 'Database/Secret/Resource')]);
    assert.equal(Object.keys(resources(standard, 'AWS::SecretsManager::Secret')).length, 3);
    const gen = only(small, 'Custom::GeneratedParameters');
    const paramNames = ['/timewarp-production/service-db-password', '/timewarp-production/secret-key'];
    // only names go to the function: the values are made in the account, never in the template
    assert.deepEqual(Object.keys(gen.props).sort(), ['Names', 'ServiceToken']);
    assert.deepEqual(gen.props.Names, paramNames);
    small.resourceCountIs('AWS::SSM::Parameter', 0);
    const arn = (n: string) => ({ 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ssm:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, `:parameter${n}`]] });
    const valueFrom = (c: any) => Object.fromEntries(c.Secrets.map((x: any) => [x.Name, x.ValueFrom]));
    assert.deepEqual(valueFrom(serve(small)), { DB_PASSWORD: arn(paramNames[0]), SECRET_KEY: arn(paramNames[1]) });
    const m = migrate(small);
    assert.deepEqual(valueFrom(m).TIMEWARP_DB_SERVICE_PASSWORD, arn(paramNames[0]));
    assert.deepEqual(valueFrom(m).SECRET_KEY, arn(paramNames[1]));
    assert.match(JSON.stringify(valueFrom(m).DB_PASSWORD), /DatabaseSecretAttachment/, 'migrate connects as the master (Secrets Manager)');
    assert.equal(containerEnv(m).TIMEWARP_DB_SERVICE_ROLE, 'timewarp_app');
    // the execution role reads exactly these two parameters; no KMS grant (aws/ssm)
    const statements = Object.values(resources(small, 'AWS::IAM::Policy')).flatMap((p) => p.Properties.PolicyDocument.Statement);
    const ssmReads = statements.filter((st: any) => [st.Action].flat().includes('ssm:GetParameters'));
    const sorted = (list: unknown[]) => list.map((x) => JSON.stringify(x)).sort();
    assert.deepEqual(sorted(ssmReads.flatMap((st: any) => [st.Resource].flat())), sorted(paramNames.map((n) => arn(n))));
    assert.ok(!statements.some((st: any) => [st.Action].flat().some((x: string) => x.startsWith('kms:'))), 'no KMS grant anywhere');
    // the generator may write and delete those two names only
    const writes = statements.filter((st: any) => [st.Action].flat().includes('ssm:PutParameter'));
    assert.equal(writes.length, 1);
    assert.deepEqual(sorted(writes[0].Resource), sorted(paramNames.map((n) => arn(n))));
    // tasks are registered only once the parameters exist
    const deps = (family: string) => Object.values(resources(small, 'AWS::ECS::TaskDefinition')).find((r) => r.Properties.Family.endsWith(family))!.DependsOn ?? [];
    for (const f of ['-serve', '-migrate']) assert.ok(deps(f).includes(gen.id), f);
    // rotation asked for: the service user goes back to Secrets Manager (rotation needs it)
    const rotated = Template.fromStack(build({ ...BASE_CONTEXT, profile: 'small', rotation: 'true' }, false).stages.production!);
    assert.equal(Object.keys(resources(rotated, 'AWS::SecretsManager::Secret')).length, 3);
    rotated.resourceCountIs('Custom::GeneratedParameters', 0);
    assert.throws(() => build({ ...BASE_CONTEXT, profile: 'small', rotation: 'true', parameterStoreSecrets: 'true' }, false), /rotation needs the service user's secret in Secrets Manager/);
  });

  test('no customer-managed KMS key and no Container Insights; the alarm topic is TLS-only', () => {
    small.resourceCountIs('AWS::KMS::Key', 0);
    for (const g of Object.values(resources(small, 'AWS::Logs::LogGroup'))) assert.equal(g.Properties.KmsKeyId, undefined);
    assert.equal(only(small, 'AWS::SNS::Topic').props.KmsMasterKeyId, undefined);
    assert.match(JSON.stringify(only(small, 'AWS::SNS::TopicPolicy').props), /aws:SecureTransport/);
    assert.deepEqual(only(small, 'AWS::ECS::Cluster').props.ClusterSettings, [{ Name: 'containerInsights', Value: 'disabled' }]);
    assert.deepEqual(only(standard, 'AWS::ECS::Cluster').props.ClusterSettings, [{ Name: 'containerInsights', Value: 'enabled' }]);
    assert.doesNotMatch(JSON.stringify(only(small, 'AWS::CloudWatch::Dashboard').props), /ContainerInsights/);
  });

  test('the cost choices: smallest gp3 storage RDS allows (20 GiB), no WAF, no NAT, no rotation endpoint; the standard production keeps on-demand tasks', () => {
    const db = only(small, 'AWS::RDS::DBInstance').props;
    assert.deepEqual([db.StorageType, db.AllocatedStorage], ['gp3', '20']);
    small.resourceCountIs('AWS::WAFv2::WebACL', 0);
    small.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    assert.deepEqual(only(standard, 'AWS::ECS::Service').props.CapacityProviderStrategy, [{ CapacityProvider: 'FARGATE', Weight: 1 }]);
    // Spot is refused for a standard production stage, allowed for a small one
    assert.throws(() => build({ ...BASE_CONTEXT, 'production:fargateSpot': 'true' }, false), /fargateSpot is for non-production stages and the small profile only/);
    const onDemand = Template.fromStack(build({ ...BASE_CONTEXT, 'production:profile': 'small', 'production:fargateSpot': 'false' }, false).stages.production!);
    assert.deepEqual(only(onDemand, 'AWS::ECS::Service').props.CapacityProviderStrategy, [{ CapacityProvider: 'FARGATE', Weight: 1 }]);
  });

  test('an unknown profile, or a Fargate size that does not exist, stops synthesis', () => {
    assert.throws(() => build({ ...BASE_CONTEXT, profile: 'tiny' }, false), /profile must be one of standard, small/);
    assert.throws(() => build({ ...BASE_CONTEXT, taskCpu: '256', taskMemoryMiB: '4096' }, false), /not a Fargate size/);
    assert.throws(() => build({ ...BASE_CONTEXT, 'staging:singleAz': 'true', 'staging:multiAz': 'true' }, false), /singleAz and multiAz/);
  });

  test('the generator (lib/generate-parameters.js): random SecureStrings, an existing value kept, nothing logged, delete on rollback', async () => {
    const calls: { name: string; input: any }[] = [];
    let existing = new Set<string>();
    let failNext: string | undefined;
    class Command {
      constructor(readonly input: any) {}
    }
    const fakeSdk = {
      SSMClient: class {
        async send(cmd: any) {
          calls.push({ name: cmd.constructor.name, input: cmd.input });
          if (failNext) {
            const e = new Error('not allowed');
            e.name = failNext;
            throw e;
          }
          if (cmd.constructor.name === 'PutParameterCommand' && existing.has(cmd.input.Name)) {
            const e = new Error('exists');
            e.name = 'ParameterAlreadyExists';
            throw e;
          }
          return {};
        }
      },
      PutParameterCommand: class PutParameterCommand extends Command {},
      DeleteParametersCommand: class DeleteParametersCommand extends Command {},
    };
    const responses: any[] = [];
    const logs: string[] = [];
    const realFetch = globalThis.fetch;
    const realLog = console.log;
    const resolve = (Module as any)._load;
    (Module as any)._load = function (request: string, ...rest: unknown[]) {
      return request === '@aws-sdk/client-ssm' ? fakeSdk : resolve.call(this, request, ...rest);
    };
    (globalThis as any).fetch = async (url: string, init: any) => {
      responses.push({ url, method: init.method, body: JSON.parse(init.body) });
      return { ok: true, status: 200 };
    };
    console.log = (...a: unknown[]) => logs.push(a.join(' '));
    try {
      const m = { exports: {} as any };
      new Function('require', 'module', 'exports', readFileSync(join(ROOT, 'lib', 'generate-parameters.js'), 'utf8'))(require, m, m.exports);
      const { handler } = m.exports;
      const event = (RequestType: string, extra: object = {}) => ({
        RequestType,
        ResponseURL: 'https://cloudformation-response.example/signed',
        StackId: 'stack',
        RequestId: 'req',
        LogicalResourceId: 'Gen',
        ResourceProperties: { Names: ['/timewarp-production/service-db-password', '/timewarp-production/secret-key'] },
        ...extra,
      });

      await handler(event('Create'));
      const puts = calls.filter((c) => c.name === 'PutParameterCommand').map((c) => c.input);
      assert.deepEqual(puts.map((p) => p.Name), ['/timewarp-production/service-db-password', '/timewarp-production/secret-key']);
      for (const p of puts) {
        assert.equal(p.Type, 'SecureString');
        assert.equal(p.Overwrite, false);
        assert.equal(p.KeyId, undefined, 'the AWS-managed key aws/ssm');
        assert.match(p.Value, /^[A-Za-z0-9_-]{43}$/, '32 random bytes, at least the 32 characters SECRET_KEY needs');
      }
      assert.notEqual(puts[0].Value, puts[1].Value);
      const values = puts.map((p) => p.Value);
      assert.equal(responses.length, 1);
      assert.equal(responses[0].method, 'PUT');
      assert.equal(responses[0].body.Status, 'SUCCESS');
      assert.equal(responses[0].body.PhysicalResourceId, 'generated-parameters:/timewarp-production/service-db-password,/timewarp-production/secret-key');
      assert.equal(responses[0].body.Data, undefined, 'no value in the response');

      // a second create (a retry, a restore) keeps what exists
      existing = new Set(['/timewarp-production/service-db-password']);
      calls.length = 0;
      await handler(event('Create'));
      assert.equal(responses[1].body.Status, 'SUCCESS');
      assert.equal(calls.length, 2);

      calls.length = 0;
      await handler(event('Delete', { PhysicalResourceId: 'generated-parameters:old' }));
      assert.deepEqual(calls, [{ name: 'DeleteParametersCommand', input: { Names: ['/timewarp-production/service-db-password', '/timewarp-production/secret-key'] } }]);
      assert.equal(responses[2].body.PhysicalResourceId, 'generated-parameters:old');

      failNext = 'AccessDeniedException';
      await handler(event('Create'));
      assert.equal(responses[3].body.Status, 'FAILED');
      assert.match(responses[3].body.Reason, /AccessDeniedException/);

      const all = logs.join('\n') + JSON.stringify(responses);
      for (const v of values) assert.ok(!all.includes(v), 'a generated value in a log or a response');
    } finally {
      (Module as any)._load = resolve;
      globalThis.fetch = realFetch;
      console.log = realLog;
    }
  });
});
