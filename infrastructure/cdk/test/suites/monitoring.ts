/* CloudWatch alarms, the SNS topic they notify, and the KMS key behind logs and topic. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultTemplates, idByPath, only, resources, STAGE_NAMES } from '../helpers';

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

    test(`${stage}: the eight alarms exist, and each notifies the topic on ALARM and OK`, () => {
      assert.deepEqual(Object.keys(alarms).sort(), [
        name('alb-5xx-rate'),
        name('db-connections-high'),
        name('db-cpu-high'),
        name('db-free-storage-low'),
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
      assert.equal(groups.length, 3, 'app, VPC flow logs, RDS');
      for (const g of groups) {
        assert.equal(g.RetentionInDays, prod ? 90 : 30);
        assert.deepEqual(g.KmsKeyId, { 'Fn::GetAtt': [key, 'Arn'] });
      }
      assert.ok(idByPath(tpl, 'AppLogGroup/Resource'));
    });
  }
});
