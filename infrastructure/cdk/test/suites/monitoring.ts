/* CloudWatch alarms, the SNS topic they notify, and the KMS key behind logs and topic. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultTemplates, idByPath, only, REPO_ROOT, resources, STAGE_NAMES } from '../helpers';

const t = defaultTemplates();

describe('monitoring', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];
    const prod = stage === 'production';
    const alarms: Record<string, any> = Object.fromEntries(
      Object.values(resources(tpl, 'AWS::CloudWatch::Alarm')).map((a) => [a.Properties.AlarmName, a.Properties]),
    );
    const name = (suffix: string) => `timewarp-${stage}-${suffix}`;
    const topic = only(tpl, 'AWS::SNS::Topic');

    test(`${stage}: the fourteen alarms exist, and each notifies the topic on ALARM and OK`, () => {
      assert.deepEqual(Object.keys(alarms).sort(), [
        name('alb-5xx-rate'),
        name('database-errors'),
        name('database-unreachable'),
        name('db-connections-high'),
        name('db-cpu-high'),
        name('db-free-storage-low'),
        name('deploy-5xx-rate'),
        name('deploy-latency-p99-high'),
        name('healthy-hosts-below-desired'),
        name('running-tasks-below-desired'),
        name('service-cpu-high'),
        name('service-memory-high'),
        name('target-latency-p95-high'),
        name('unhealthy-targets'),
      ]);
      for (const a of Object.values(alarms)) {
        assert.deepEqual(a.AlarmActions, [{ Ref: topic.id }]);
        assert.deepEqual(a.OKActions, [{ Ref: topic.id }]);
      }
    });

    test(`${stage}: service CPU and memory above 80% (3 of 5 minutes)`, () => {
      for (const [n, metric] of [
        ['service-cpu-high', 'CPUUtilization'],
        ['service-memory-high', 'MemoryUtilization'],
      ]) {
        const a = alarms[name(n)];
        assert.equal(a.Namespace, 'AWS/ECS');
        assert.equal(a.MetricName, metric);
        assert.equal(a.Threshold, 80);
        assert.equal(a.ComparisonOperator, 'GreaterThanThreshold');
        assert.equal(a.Period, 60);
        assert.equal(a.EvaluationPeriods, 5);
        assert.equal(a.DatapointsToAlarm, 3);
        assert.deepEqual(a.Dimensions.map((d: any) => d.Name).sort(), ['ClusterName', 'ServiceName']);
      }
    });

    test(`${stage}: unhealthy targets >= 1 for 3 minutes`, () => {
      const a = alarms[name('unhealthy-targets')];
      assert.equal(a.Namespace, 'AWS/ApplicationELB');
      assert.equal(a.MetricName, 'UnHealthyHostCount');
      assert.equal(a.Statistic, 'Maximum');
      assert.equal(a.Threshold, 1);
      assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(a.EvaluationPeriods, 3);
    });

    test(`${stage}: ALB 5xx rate above 5% of requests (ALB and target 5xx over request count)`, () => {
      const a = alarms[name('alb-5xx-rate')];
      assert.equal(a.Threshold, 5);
      assert.equal(a.ComparisonOperator, 'GreaterThanThreshold');
      assert.equal(a.TreatMissingData, 'notBreaching');
      const expr = a.Metrics.find((m: any) => m.Expression);
      assert.match(expr.Expression, /100 \* \(FILL\(elb5xx, 0\) \+ FILL\(target5xx, 0\)\) \/ MAX\(\[FILL\(requests, 0\), 1\]\)/);
      const names = a.Metrics.filter((m: any) => m.MetricStat).map((m: any) => m.MetricStat.Metric.MetricName).sort();
      assert.deepEqual(names, ['HTTPCode_ELB_5XX_Count', 'HTTPCode_Target_5XX_Count', 'RequestCount']);
    });

    test(`${stage}: p95 target latency above 1 s`, () => {
      const a = alarms[name('target-latency-p95-high')];
      assert.equal(a.MetricName, 'TargetResponseTime');
      assert.equal(a.ExtendedStatistic, 'p95');
      assert.equal(a.Threshold, 1);
    });

    test(`${stage}: database connections, CPU and free storage`, () => {
      const conn = alarms[name('db-connections-high')];
      assert.equal(conn.Namespace, 'AWS/RDS');
      assert.equal(conn.MetricName, 'DatabaseConnections');
      // 80% of LEAST(memory / 9531392, 5000): t4g.small (2 GiB) -> 180, t4g.micro (1 GiB) -> 90
      assert.equal(conn.Threshold, prod ? 180 : 90);
      const cpu = alarms[name('db-cpu-high')];
      assert.equal(cpu.MetricName, 'CPUUtilization');
      assert.equal(cpu.Threshold, 80);
      const storage = alarms[name('db-free-storage-low')];
      assert.equal(storage.MetricName, 'FreeStorageSpace');
      assert.equal(storage.ComparisonOperator, 'LessThanThreshold');
      assert.equal(storage.Threshold, 2 * 1024 ** 3);
      for (const a of [conn, cpu, storage]) {
        assert.deepEqual(a.Dimensions, [{ Name: 'DBInstanceIdentifier', Value: { Ref: only(tpl, 'AWS::RDS::DBInstance').id } }]);
      }
    });

    test(`${stage}: alarm topic encrypted with the stage key and TLS-only`, () => {
      const key = only(tpl, 'AWS::KMS::Key');
      assert.equal(topic.props.TopicName, name('alarms'));
      assert.deepEqual(topic.props.KmsMasterKeyId, { 'Fn::GetAtt': [key.id, 'Arn'] });
      const policy = only(tpl, 'AWS::SNS::TopicPolicy').props.PolicyDocument.Statement;
      assert.ok(policy.some((s: any) => s.Effect === 'Deny' && s.Condition?.Bool?.['aws:SecureTransport'] === 'false'));
      tpl.resourceCountIs('AWS::SNS::Subscription', 0);
    });

    test(`${stage}: KMS key rotates, and lets CloudWatch Logs (this account) and CloudWatch alarms use it`, () => {
      const key = only(tpl, 'AWS::KMS::Key').props;
      assert.equal(key.EnableKeyRotation, true);
      const logs = key.KeyPolicy.Statement.find((s: any) => s.Sid === 'CloudWatchLogs');
      assert.match(JSON.stringify(logs.Principal), /logs\./);
      assert.ok(logs.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn']);
      const cw = key.KeyPolicy.Statement.find((s: any) => s.Sid === 'CloudWatchAlarmsPublishToEncryptedTopic');
      assert.deepEqual(cw.Principal, { Service: 'cloudwatch.amazonaws.com' });
      assert.deepEqual(cw.Action, ['kms:Decrypt', 'kms:GenerateDataKey*']);
    });

    test(`${stage}: every log group has a retention and the stage key`, () => {
      const key = only(tpl, 'AWS::KMS::Key').id;
      const groups = Object.values(resources(tpl, 'AWS::Logs::LogGroup')).map((g) => g.Properties);
      assert.equal(groups.length, prod ? 5 : 4, `app, VPC flow logs, RDS, the redeploy-on-rotation function${prod ? ', the WAF' : ''}`);
      for (const g of groups) {
        assert.equal(g.RetentionInDays, prod ? 90 : 30);
        assert.deepEqual(g.KmsKeyId, { 'Fn::GetAtt': [key, 'Arn'] });
      }
      assert.ok(idByPath(tpl, 'AppLogGroup/Resource'));
    });
  }
});

/* The alarms issue 15 asked for, the dashboard and the saved queries, per stage. */
describe('monitoring: what a first real day needs', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];
    const prod = stage === 'production';
    const byName: Record<string, any> = Object.fromEntries(
      Object.values(resources(tpl, 'AWS::CloudWatch::Alarm')).map((a) => [a.Properties.AlarmName, a.Properties]),
    );
    const alarm = (suffix: string) => byName[`timewarp-${stage}-${suffix}`];
    const serviceDimension = [{ Name: 'Service', Value: `timewarp-${stage}` }];
    const metricOf = (a: any, id: string) => a.Metrics.find((m: any) => m.Id === id).MetricStat;

    test(`${stage}: TimeWarp/DatabaseErrors alarms on this stage's dimension only`, () => {
      const a = alarm('database-errors');
      assert.equal(a.Namespace, 'TimeWarp');
      assert.equal(a.MetricName, 'DatabaseErrors');
      assert.deepEqual(a.Dimensions, serviceDimension);
      assert.equal(a.Statistic, 'Sum');
      assert.equal(a.Threshold, 1);
      assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
      assert.equal(a.EvaluationPeriods, 3);
      assert.equal(a.Period, 60);
      assert.equal(a.TreatMissingData, 'notBreaching', 'an idle service writes no metric line');
    });

    test(`${stage}: the deep health check (DatabaseReachable < 1) alarms after 3 minutes`, () => {
      const a = alarm('database-unreachable');
      assert.equal(a.Namespace, 'TimeWarp');
      assert.equal(a.MetricName, 'DatabaseReachable');
      assert.deepEqual(a.Dimensions, serviceDimension);
      assert.equal(a.Statistic, 'Minimum', 'one task that cannot reach the database is enough');
      assert.equal(a.Threshold, 1);
      assert.equal(a.ComparisonOperator, 'LessThanThreshold');
      assert.equal(a.Period * a.EvaluationPeriods, 180);
      assert.equal(a.TreatMissingData, 'breaching', 'silence means no task reports');
    });

    test(`${stage}: healthy hosts and running tasks below the desired count (not UnHealthyHostCount, which reads 0 with no task)`, () => {
      for (const [suffix, other, ns, metric] of [
        ['healthy-hosts-below-desired', 'healthy', 'AWS/ApplicationELB', 'HealthyHostCount'],
        ['running-tasks-below-desired', 'running', 'ECS/ContainerInsights', 'RunningTaskCount'],
      ]) {
        const a = alarm(suffix);
        const expr = a.Metrics.find((m: any) => m.Expression);
        assert.equal(expr.Expression, `FILL(desired, ${prod ? 2 : 1}) - FILL(${other}, 0)`);
        const desired = metricOf(a, 'desired');
        assert.equal(desired.Metric.Namespace, 'ECS/ContainerInsights');
        assert.equal(desired.Metric.MetricName, 'DesiredTaskCount');
        const measured = metricOf(a, other);
        assert.equal(measured.Metric.Namespace, ns);
        assert.equal(measured.Metric.MetricName, metric);
        assert.equal(measured.Stat, 'Minimum');
        assert.equal(a.Threshold, 1);
        assert.equal(a.ComparisonOperator, 'GreaterThanOrEqualToThreshold');
        assert.equal(a.EvaluationPeriods, 5);
        assert.equal(a.TreatMissingData, 'breaching');
      }
      const insights = metricOf(alarm('running-tasks-below-desired'), 'running').Metric.Dimensions.map((d: any) => d.Name).sort();
      assert.deepEqual(insights, ['ClusterName', 'ServiceName']);
    });

    test(`${stage}: deployment alarms (5xx rate and p99 over one-minute periods) roll a release back`, () => {
      const svc = only(tpl, 'AWS::ECS::Service').props.DeploymentConfiguration.Alarms;
      assert.equal(svc.Enable, true);
      assert.equal(svc.Rollback, true);
      const ids = svc.AlarmNames.map((r: any) => r.Ref);
      const names = ids.map((id: string) => (resources(tpl, 'AWS::CloudWatch::Alarm') as any)[id].Properties.AlarmName);
      assert.deepEqual(names, [`timewarp-${stage}-deploy-5xx-rate`, `timewarp-${stage}-deploy-latency-p99-high`]);
      const rate = alarm('deploy-5xx-rate');
      for (const m of rate.Metrics.filter((x: any) => x.MetricStat)) assert.equal(m.MetricStat.Period, 60);
      assert.equal(rate.EvaluationPeriods, 3);
      assert.equal(rate.Threshold, 5);
      const p99 = alarm('deploy-latency-p99-high');
      assert.equal(p99.ExtendedStatistic, 'p99');
      assert.equal(p99.Period, 60);
    });

    test(`${stage}: one dashboard: requests, p50/p99, 4xx/5xx, database errors, CPU and memory, healthy hosts`, () => {
      const dash = only(tpl, 'AWS::CloudWatch::Dashboard').props;
      assert.equal(dash.DashboardName, `timewarp-${stage}`);
      const body = JSON.stringify(dash.DashboardBody);
      for (const title of ['Requests', 'Latency (target response time)', '4xx and 5xx', 'Database', 'CPU and memory (%)', 'Tasks and healthy hosts', 'Alarms']) {
        assert.ok(body.includes(`\\"title\\":\\"${title}\\"`), title);
      }
      for (const needle of ['RequestCount', '\\"p50\\"', '\\"p99\\"', 'HTTPCode_Target_4XX_Count', 'HTTPCode_Target_5XX_Count', 'DatabaseErrors', 'DatabaseReachable', 'CPUUtilization', 'MemoryUtilization', 'HealthyHostCount', 'RunningTaskCount']) {
        assert.ok(body.includes(needle), needle);
      }
      // the server's metrics on this stage's dimension, never another stage's
      assert.ok(body.includes(`\\"Service\\",\\"timewarp-${stage}\\"`));
      assert.ok(!body.includes(`timewarp-${prod ? 'staging' : 'production'}`));
      assert.ok(!/\\"Service\\",\\"timewarp\\"/.test(body), 'not the old shared dimension');
    });

    test(`${stage}: saved Logs Insights queries: errors by path, slowest requests, one request by id`, () => {
      const queries = Object.values(resources(tpl, 'AWS::Logs::QueryDefinition')).map((q) => q.Properties);
      const byName = Object.fromEntries(queries.map((q) => [q.Name, q]));
      assert.deepEqual(Object.keys(byName).sort(), [`timewarp-${stage}/errors-by-path`, `timewarp-${stage}/request-by-id`, `timewarp-${stage}/slowest-requests`]);
      const app = { Ref: idByPath(tpl, 'AppLogGroup/Resource') };
      for (const q of queries) assert.deepEqual(q.LogGroupNames, [app]);
      assert.match(byName[`timewarp-${stage}/errors-by-path`].QueryString, /filter msg = "request" and status >= 500 \| stats count\(\*\) as errors by path/);
      assert.match(byName[`timewarp-${stage}/slowest-requests`].QueryString, /sort duration_us desc/);
      assert.match(byName[`timewarp-${stage}/request-by-id`].QueryString, /filter request_id = /);
    });
  }

  test('the log fields the queries use are the ones the server writes', () => {
    // The access log line is written by src/http/access_log.c (the HTTP layer's own file).
    const server = readFileSync(join(REPO_ROOT, 'src', 'http', 'access_log.c'), 'utf8');
    for (const field of ['msg', 'request_id', 'method', 'path', 'status', 'duration_us']) {
      assert.ok(server.includes(`\\"${field}\\":`), `src/http/access_log.c writes "${field}"`);
    }
  });
});
