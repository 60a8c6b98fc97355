/* ECS: cluster, the serve and migrate task definitions, the service, autoscaling and IAM. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import * as T from '../../lib/timing';
import { containerEnv, defaultTemplates, idByPath, only, REPO_ROOT, resources, STAGE_NAMES } from '../helpers';

const t = defaultTemplates();

function taskDef(tpl: any, family: string): any {
  const hits = Object.values(resources(tpl, 'AWS::ECS::TaskDefinition')).filter((r) => r.Properties.Family === family);
  assert.equal(hits.length, 1, `one task definition of family ${family}`);
  return hits[0].Properties;
}

/** Statements of the inline policies attached to a role (by logical id). */
function roleStatements(tpl: any, roleId: string): any[] {
  return Object.values(resources(tpl, 'AWS::IAM::Policy'))
    .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement);
}

describe('ECS', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];
    const prod = stage === 'production';
    const serve = taskDef(tpl, `timewarp-${stage}-serve`);
    const migrate = taskDef(tpl, `timewarp-${stage}-migrate`);
    const [serveC] = serve.ContainerDefinitions;
    const [migrateC] = migrate.ContainerDefinitions;

    test(`${stage}: cluster with Container Insights and Fargate capacity providers`, () => {
      const cluster = only(tpl, 'AWS::ECS::Cluster').props;
      assert.equal(cluster.ClusterName, `timewarp-${stage}`);
      assert.deepEqual(cluster.ClusterSettings, [{ Name: 'containerInsights', Value: 'enabled' }]);
      const assoc = only(tpl, 'AWS::ECS::ClusterCapacityProviderAssociations').props;
      assert.deepEqual([...assoc.CapacityProviders].sort(), ['FARGATE', 'FARGATE_SPOT']);
    });

    test(`${stage}: serve task is the smallest Fargate size, 256 CPU / 512 MiB, one container`, () => {
      assert.equal(serve.Cpu, '256');
      assert.equal(serve.Memory, '512');
      assert.deepEqual(serve.RequiresCompatibilities, ['FARGATE']);
      assert.equal(serve.NetworkMode, 'awsvpc');
      assert.equal(serve.ContainerDefinitions.length, 1);
      assert.equal(serveC.Name, 'timewarp');
      assert.deepEqual(serveC.Command, ['serve']);
      assert.deepEqual(serveC.PortMappings, [{ ContainerPort: 8000, Name: 'http', Protocol: 'tcp' }]);
    });

    test(`${stage}: non-root user 10001:10001 with a read-only root filesystem`, () => {
      for (const c of [serveC, migrateC]) {
        assert.equal(c.User, '10001:10001');
        assert.equal(c.ReadonlyRootFilesystem, true);
        assert.equal(c.Privileged, undefined);
      }
    });

    test(`${stage}: container health check runs \`timewarp healthcheck\` (which probes /health/live)`, () => {
      assert.deepEqual(serveC.HealthCheck.Command, ['CMD', '/usr/local/bin/timewarp', 'healthcheck']);
      assert.equal(serveC.HealthCheck.Interval, 10);
      assert.equal(serveC.HealthCheck.Timeout, 5);
      assert.equal(serveC.HealthCheck.Retries, 3);
      assert.equal(serveC.HealthCheck.StartPeriod, 15);
    });

    test(`${stage}: a 5-minute database outage replaces no task; a hung process is replaced within a minute`, () => {
      // Every check that can make ECS replace a task probes the process only (/health/live):
      // the target group's, and the container's (timewarp healthcheck probes /health/live).
      const tgs = Object.values(resources(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup')).map((g) => g.Properties);
      for (const tg of tgs) assert.equal(tg.HealthCheckPath, '/health/live');
      assert.notEqual(T.HEALTH_CHECK_PATH, T.DEEP_HEALTH_PATH);
      // A hung process answers nothing: unhealthy at the ALB after interval x threshold (+ timeout),
      // and in the container after interval x retries; both well under a minute.
      const [tg] = tgs;
      const albSeconds = tg.HealthCheckIntervalSeconds * tg.UnhealthyThresholdCount + tg.HealthCheckTimeoutSeconds;
      const containerSeconds = serveC.HealthCheck.Interval * serveC.HealthCheck.Retries + serveC.HealthCheck.Timeout;
      assert.ok(albSeconds <= 60 && containerSeconds <= 60, `${albSeconds} s / ${containerSeconds} s`);
      // The deep check cannot replace anything: it is an alarm, longer than a routine failover.
      const alarm = Object.values(resources(tpl, 'AWS::CloudWatch::Alarm')).find((a) => a.Properties.MetricName === 'DatabaseReachable')!;
      assert.ok(alarm, 'an alarm on DatabaseReachable');
      assert.deepEqual(alarm.Properties.AlarmActions, [{ Ref: only(tpl, 'AWS::SNS::Topic').id }], 'it notifies; it restarts nothing');
      const svc = only(tpl, 'AWS::ECS::Service').props;
      const deployAlarms = svc.DeploymentConfiguration.Alarms.AlarmNames.map((r: any) => r.Ref);
      const alarmId = Object.entries(resources(tpl, 'AWS::CloudWatch::Alarm')).find(([, a]) => a.Properties.MetricName === 'DatabaseReachable')![0];
      assert.ok(!deployAlarms.includes(alarmId), 'not a deployment alarm');
      assert.ok(T.TOLERATED_DATABASE_OUTAGE_SECONDS >= 300);
    });

    test(`${stage}: timing contract: stopTimeout 45 s, drain 20 s, server idle 25 s, shutdown 10 s`, () => {
      assert.equal(serveC.StopTimeout, 45);
      const env = containerEnv(serveC);
      assert.equal(env.TIMEWARP_DRAIN_SECONDS, '20');
      assert.equal(env.TIMEWARP_IDLE_TIMEOUT, '25');
      assert.equal(env.TIMEWARP_SHUTDOWN_TIMEOUT, '10');
      // drain + shutdown must fit inside stopTimeout, and drain must cover interval x unhealthy threshold
      assert.ok(Number(env.TIMEWARP_DRAIN_SECONDS) + Number(env.TIMEWARP_SHUTDOWN_TIMEOUT) < serveC.StopTimeout);
      const tg = only(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup').props;
      assert.ok(Number(env.TIMEWARP_DRAIN_SECONDS) >= tg.HealthCheckIntervalSeconds * tg.UnhealthyThresholdCount);
      assert.ok(serveC.StopTimeout <= 120, 'Fargate caps stopTimeout at 120 s');
    });

    test(`${stage}: production configuration from plain environment values`, () => {
      const env = containerEnv(serveC);
      assert.equal(env.TIMEWARP_ENV, 'production');
      assert.equal(env.DB_ENGINE, 'postgres');
      assert.equal(env.DB_NAME, 'timewarp');
      assert.equal(env.PORT, '8000');
      assert.equal(env.ALLOWED_HOSTS, prod ? 'timewarp.example.com' : 'staging.timewarp.example.com');
      assert.equal(env.TIMEWARP_SERVICE_NAME, `timewarp-${stage}`, 'the stage is the metrics dimension "Service"');
      assert.equal(env.TIMEWARP_METRICS_INTERVAL, '60');
      const dbId = only(tpl, 'AWS::RDS::DBInstance').id;
      assert.deepEqual(env.DB_HOST, { 'Fn::GetAtt': [dbId, 'Endpoint.Address'] });
      assert.deepEqual(env.DB_PORT, { 'Fn::GetAtt': [dbId, 'Endpoint.Port'] });
      for (const name of ['DB_USER', 'DB_PASSWORD', 'SECRET_KEY', 'DATABASE_URL', 'DEBUG']) {
        assert.equal(env[name], undefined, `${name} is not a plain environment value`);
      }
    });

    test(`${stage}: serve connects as the service user, migrate as the owner; all ECS secrets from Secrets Manager`, () => {
      const master = idByPath(tpl, 'Database/Secret/Attachment/Resource');
      const serviceUser = idByPath(tpl, 'ServiceDatabaseSecret/Attachment/Resource');
      const secretKey = idByPath(tpl, 'SecretKey/Resource');
      const from = (id: string, key: string) => ({ 'Fn::Join': ['', [{ Ref: id }, `:${key}::`]] });
      assert.deepEqual(serveC.Secrets, [
        { Name: 'DB_USER', ValueFrom: from(serviceUser, 'username') },
        { Name: 'DB_PASSWORD', ValueFrom: from(serviceUser, 'password') },
        { Name: 'SECRET_KEY', ValueFrom: { Ref: secretKey } },
      ]);
      assert.deepEqual(migrateC.Secrets, [
        { Name: 'DB_USER', ValueFrom: from(master, 'username') },
        { Name: 'DB_PASSWORD', ValueFrom: from(master, 'password') },
        { Name: 'TIMEWARP_DB_SERVICE_ROLE', ValueFrom: from(serviceUser, 'username') },
        { Name: 'TIMEWARP_DB_SERVICE_PASSWORD', ValueFrom: from(serviceUser, 'password') },
        { Name: 'SECRET_KEY', ValueFrom: { Ref: secretKey } },
      ]);
      const generated = (resources(tpl, 'AWS::SecretsManager::Secret') as any)[secretKey].Properties.GenerateSecretString;
      assert.ok(generated.PasswordLength >= 32, 'SECRET_KEY has at least the 32 characters production requires');
      assert.equal(generated.ExcludePunctuation, true);
    });

    test(`${stage}: every variable the tasks get is one the server reads (src/config.c)`, () => {
      const config = readFileSync(join(REPO_ROOT, 'src', 'config.c'), 'utf8');
      for (const c of [serveC, migrateC]) {
        for (const v of [...(c.Secrets ?? []), ...(c.Environment ?? [])].map((x: any) => x.Name)) {
          assert.ok(config.includes(`"${v}"`), `${c.Name}/${v} is read by src/config.c`);
        }
      }
    });

    test(`${stage}: image from the shared ECR repository at the given tag`, () => {
      const image = JSON.stringify(serveC.Image);
      assert.match(image, /\/timewarp:0123456789abcdef0123456789abcdef01234567"/);
      assert.match(image, /\.dkr\.ecr\./);
      assert.deepEqual(migrateC.Image, serveC.Image);
    });

    test(`${stage}: logs go to an encrypted log group with retention, non-blocking`, () => {
      const lg = idByPath(tpl, 'AppLogGroup/Resource');
      assert.deepEqual(serveC.LogConfiguration.Options['awslogs-group'], { Ref: lg });
      assert.equal(serveC.LogConfiguration.LogDriver, 'awslogs');
      assert.equal(serveC.LogConfiguration.Options['awslogs-stream-prefix'], 'serve');
      assert.equal(serveC.LogConfiguration.Options.mode, 'non-blocking');
      assert.equal(migrateC.LogConfiguration.Options['awslogs-stream-prefix'], 'migrate');
      const props = (resources(tpl, 'AWS::Logs::LogGroup') as any)[lg].Properties;
      assert.equal(props.LogGroupName, `/ecs/timewarp-${stage}`);
      assert.equal(props.RetentionInDays, prod ? 90 : 30);
      assert.deepEqual(props.KmsKeyId, { 'Fn::GetAtt': [only(tpl, 'AWS::KMS::Key').id, 'Arn'] });
    });

    test(`${stage}: migrate task: same image, env and secrets, command ["migrate"], no port, no health check`, () => {
      assert.deepEqual(migrateC.Command, ['migrate']);
      assert.equal(migrateC.Name, 'timewarp');
      assert.deepEqual(containerEnv(migrateC), containerEnv(serveC));
      assert.equal(migrateC.PortMappings, undefined);
      assert.equal(migrateC.HealthCheck, undefined);
      assert.equal(migrate.Cpu, '256');
      assert.equal(migrate.Memory, '512');
      assert.deepEqual(migrate.ExecutionRoleArn, serve.ExecutionRoleArn);
      assert.deepEqual(migrate.TaskRoleArn, serve.TaskRoleArn);
    });

    test(`${stage}: service: private subnets, no public IP, circuit breaker with rollback, rolling by default`, () => {
      const svc = only(tpl, 'AWS::ECS::Service').props;
      assert.equal(svc.DesiredCount, prod ? 2 : 1);
      assert.deepEqual(svc.DeploymentConfiguration, {
        // Deployment alarms: a release that answers 5xx or slowly is rolled back on its metrics.
        Alarms: { AlarmNames: [{ Ref: idByPath(tpl, 'Deploy5xxRate/Resource') }, { Ref: idByPath(tpl, 'DeployLatencyHigh/Resource') }], Enable: true, Rollback: true },
        DeploymentCircuitBreaker: { Enable: true, Rollback: true },
        MaximumPercent: 200,
        MinimumHealthyPercent: 100,
        Strategy: 'ROLLING',
      });
      assert.equal(svc.NetworkConfiguration.AwsvpcConfiguration.AssignPublicIp, 'DISABLED');
      const privateSubnets = Object.entries(resources(tpl, 'AWS::EC2::Subnet'))
        .filter(([, s]) => s.Properties.Tags.some((x: any) => x.Key === 'aws-cdk:subnet-type' && x.Value === 'Private'))
        .map(([id]) => ({ Ref: id }));
      assert.deepEqual(svc.NetworkConfiguration.AwsvpcConfiguration.Subnets, privateSubnets);
      assert.deepEqual(svc.NetworkConfiguration.AwsvpcConfiguration.SecurityGroups, [
        { 'Fn::GetAtt': [idByPath(tpl, 'ServiceSecurityGroup/Resource'), 'GroupId'] },
      ]);
      assert.equal(svc.HealthCheckGracePeriodSeconds, 30);
      assert.equal(svc.EnableExecuteCommand, false);
      assert.deepEqual(svc.LoadBalancers, [
        { ContainerName: 'timewarp', ContainerPort: 8000, TargetGroupArn: { Ref: only(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup').id } },
      ]);
    });

    test(`${stage}: capacity: ${prod ? 'on-demand Fargate' : 'Fargate Spot (non-production)'}`, () => {
      const svc = only(tpl, 'AWS::ECS::Service').props;
      assert.deepEqual(svc.CapacityProviderStrategy, [{ CapacityProvider: prod ? 'FARGATE' : 'FARGATE_SPOT', Weight: 1 }]);
      assert.equal(svc.LaunchType, undefined);
      const association = only(tpl, 'AWS::ECS::ClusterCapacityProviderAssociations').id;
      assert.ok(resources(tpl, 'AWS::ECS::Service')[only(tpl, 'AWS::ECS::Service').id].DependsOn?.includes(association), 'created after the association');
    });

    test(`${stage}: autoscaling ${prod ? '2..6' : '1..2'} tasks on CPU (60%) and ALB requests per target`, () => {
      const target = only(tpl, 'AWS::ApplicationAutoScaling::ScalableTarget').props;
      assert.equal(target.MinCapacity, prod ? 2 : 1);
      assert.equal(target.MaxCapacity, prod ? 6 : 2);
      assert.equal(target.ScalableDimension, 'ecs:service:DesiredCount');
      const policies = Object.values(resources(tpl, 'AWS::ApplicationAutoScaling::ScalingPolicy')).map(
        (p) => p.Properties.TargetTrackingScalingPolicyConfiguration,
      );
      assert.equal(policies.length, 2);
      const cpu = policies.find((p) => p.PredefinedMetricSpecification.PredefinedMetricType === 'ECSServiceAverageCPUUtilization');
      const req = policies.find((p) => p.PredefinedMetricSpecification.PredefinedMetricType === 'ALBRequestCountPerTarget');
      assert.equal(cpu.TargetValue, 60);
      assert.equal(req.TargetValue, 3000);
      assert.ok(req.PredefinedMetricSpecification.ResourceLabel, 'request-count policy is bound to the target group');
    });

    test(`${stage}: task role has no permissions; roles trust only this account's ECS tasks`, () => {
      const taskRoleId = idByPath(tpl, 'TaskRole/Resource');
      const execRoleId = idByPath(tpl, 'TaskExecutionRole/Resource');
      assert.deepEqual(roleStatements(tpl, taskRoleId), []);
      const roles = resources(tpl, 'AWS::IAM::Role') as any;
      for (const id of [taskRoleId, execRoleId]) {
        assert.equal(roles[id].Properties.ManagedPolicyArns, undefined, 'no managed policies');
        const [trust] = roles[id].Properties.AssumeRolePolicyDocument.Statement;
        assert.deepEqual(trust.Principal, { Service: 'ecs-tasks.amazonaws.com' });
        assert.deepEqual(trust.Condition.StringEquals, { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } });
        assert.ok(trust.Condition.ArnLike['aws:SourceArn']);
      }
    });

    test(`${stage}: execution role may pull the image, read the three secrets and write logs, nothing else`, () => {
      const execRoleId = idByPath(tpl, 'TaskExecutionRole/Resource');
      const statements = roleStatements(tpl, execRoleId);
      const repo = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, ':ecr:', { Ref: 'AWS::Region' }, ':', { Ref: 'AWS::AccountId' }, ':repository/timewarp']] };
      assert.deepEqual(statements, [
        { Action: ['ecr:BatchCheckLayerAvailability', 'ecr:BatchGetImage', 'ecr:GetDownloadUrlForLayer'], Effect: 'Allow', Resource: repo },
        { Action: 'ecr:GetAuthorizationToken', Effect: 'Allow', Resource: '*' },
        { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [idByPath(tpl, 'AppLogGroup/Resource'), 'Arn'] } },
        {
          Action: ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue'],
          Effect: 'Allow',
          Resource: [
            { Ref: idByPath(tpl, 'Database/Secret/Attachment/Resource') },
            { Ref: idByPath(tpl, 'SecretKey/Resource') },
            { Ref: idByPath(tpl, 'ServiceDatabaseSecret/Attachment/Resource') },
          ],
        },
      ]);
    });
  }
});
