/* RDS PostgreSQL: placement, protections per stage, generated credentials. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { defaultTemplates, idByPath, only, resources, STAGE_NAMES } from '../helpers';

const t = defaultTemplates();

describe('database', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];
    const prod = stage === 'production';
    const db = only(tpl, 'AWS::RDS::DBInstance');

    test(`${stage}: PostgreSQL 15, encrypted, private, gp3 with storage autoscaling`, () => {
      assert.equal(db.props.Engine, 'postgres');
      assert.match(db.props.EngineVersion, /^15(\.|$)/);
      assert.equal(db.props.StorageEncrypted, true);
      assert.equal(db.props.PubliclyAccessible, false);
      assert.equal(db.props.StorageType, 'gp3');
      assert.equal(db.props.AllocatedStorage, '20');
      assert.equal(db.props.MaxAllocatedStorage, prod ? 100 : 50);
      assert.equal(db.props.DBName, 'timewarp');
      assert.equal(db.props.DBInstanceIdentifier, `timewarp-${stage}`);
      assert.equal(db.props.AutoMinorVersionUpgrade, true);
      assert.deepEqual(db.props.EnableCloudwatchLogsExports, ['postgresql']);
    });

    test(`${stage}: sizes and protections (Multi-AZ ${prod}, deletion protection ${prod})`, () => {
      assert.equal(db.props.DBInstanceClass, prod ? 'db.t4g.small' : 'db.t4g.micro');
      assert.equal(db.props.MultiAZ, prod);
      assert.equal(db.props.DeletionProtection, prod);
      assert.ok(db.props.BackupRetentionPeriod >= 7, 'automated backups kept at least 7 days');
      assert.equal(db.props.BackupRetentionPeriod, prod ? 14 : 7);
      const raw = resources(tpl, 'AWS::RDS::DBInstance')[db.id] as any;
      assert.equal(raw.DeletionPolicy, 'Snapshot', 'a final snapshot is taken if the instance is ever deleted');
      assert.equal(raw.UpdateReplacePolicy, 'Snapshot');
    });

    test(`${stage}: in the isolated subnets, reachable only through its own security group`, () => {
      const group = only(tpl, 'AWS::RDS::DBSubnetGroup').props;
      const isolated = Object.entries(resources(tpl, 'AWS::EC2::Subnet'))
        .filter(([, s]) => s.Properties.Tags.some((x: any) => x.Key === 'aws-cdk:subnet-type' && x.Value === 'Isolated'))
        .map(([id]) => ({ Ref: id }));
      assert.deepEqual(group.SubnetIds, isolated);
      assert.deepEqual(db.props.VPCSecurityGroups, [{ 'Fn::GetAtt': [idByPath(tpl, 'DatabaseSecurityGroup/Resource'), 'GroupId'] }]);
    });

    test(`${stage}: credentials generated in Secrets Manager, password never in the template`, () => {
      const secretId = idByPath(tpl, 'Database/Secret/Resource');
      const secret = (resources(tpl, 'AWS::SecretsManager::Secret') as any)[secretId].Properties;
      assert.equal(secret.Name, undefined, 'generated name: a rolled-back create leaves no reserved name behind');
      assert.equal(JSON.parse(secret.GenerateSecretString.SecretStringTemplate).username, 'timewarp');
      assert.equal(secret.GenerateSecretString.GenerateStringKey, 'password');
      assert.equal(db.props.MasterUsername, 'timewarp');
      assert.match(JSON.stringify(db.props.MasterUserPassword), /resolve:secretsmanager:.*:SecretString:password::/);
      const attachments = Object.values(resources(tpl, 'AWS::SecretsManager::SecretTargetAttachment')).map((a) => a.Properties.SecretId.Ref);
      assert.deepEqual(attachments.sort(), [secretId, idByPath(tpl, 'ServiceDatabaseSecret/Resource')].sort(), 'master and service secrets get host/port');
    });

    test(`${stage}: RDS log group exists first, with retention`, () => {
      const lg = idByPath(tpl, 'DatabaseLogGroup/Resource');
      const raw = resources(tpl, 'AWS::RDS::DBInstance')[db.id];
      assert.ok(raw.DependsOn?.includes(lg), 'the instance waits for its log group');
      tpl.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/aws/rds/instance/timewarp-${stage}/postgresql`,
        RetentionInDays: prod ? 90 : 30,
      });
    });
  }
});
