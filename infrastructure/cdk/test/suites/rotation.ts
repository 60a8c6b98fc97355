/*
 * Password rotation without an outage (issue 10): the service's own database user is rotated by
 * Secrets Manager with alternating users, and a successful rotation forces a new deployment so
 * that every task starts with the new credentials. The forcing Lambda's code is run here too,
 * against a stand-in for the AWS SDK.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import Module from 'node:module';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { BASE_CONTEXT, build, defaultTemplates, idByPath, only, resources, ROOT, STAGE_NAMES } from '../helpers';

const t = defaultTemplates();

describe('password rotation', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];
    const serviceSecret = idByPath(tpl, 'ServiceDatabaseSecret/Resource');
    const serviceAttachment = idByPath(tpl, 'ServiceDatabaseSecret/Attachment/Resource');
    const master = idByPath(tpl, 'Database/Secret/Attachment/Resource');

    test(`${stage}: a second secret for the service user timewarp_app, attached to the instance, naming the master secret`, () => {
      const secret = (resources(tpl, 'AWS::SecretsManager::Secret') as any)[serviceSecret].Properties.GenerateSecretString;
      const template = JSON.stringify(secret.SecretStringTemplate);
      assert.match(template, /\\"username\\":\\"timewarp_app\\"/);
      assert.match(template, /\\"masterarn\\":\\"/, 'the multi-user rotation function finds the master secret here');
      assert.ok(template.includes(master));
      const attachment = (resources(tpl, 'AWS::SecretsManager::SecretTargetAttachment') as any)[serviceAttachment].Properties;
      assert.deepEqual(attachment.SecretId, { Ref: serviceSecret });
      assert.deepEqual(attachment.TargetId, { Ref: only(tpl, 'AWS::RDS::DBInstance').id });
    });

    test(`${stage}: Secrets Manager rotation with alternating users every 30 days, first rotation on schedule`, () => {
      const schedule = only(tpl, 'AWS::SecretsManager::RotationSchedule').props;
      assert.deepEqual(schedule.SecretId, { Ref: serviceAttachment });
      assert.deepEqual(schedule.RotationRules, { ScheduleExpression: 'rate(30 days)' });
      assert.equal(schedule.RotateImmediatelyOnUpdate, false, 'the role exists only after the migrate task ran');
      const app = only(tpl, 'AWS::Serverless::Application');
      assert.deepEqual(schedule.RotationLambdaARN, { 'Fn::GetAtt': [app.id, 'Outputs.RotationLambdaARN'] });
      const mapping = Object.values(tpl.toJSON().Mappings as Record<string, any>).find((m) => m.aws?.applicationId)!;
      assert.match(mapping.aws.applicationId, /SecretsManagerRDSPostgreSQLRotationMultiUser$/, 'the alternating-users function for PostgreSQL');
      assert.deepEqual(app.props.Parameters.masterSecretArn, { Ref: master });
      // it runs where it reaches both the database and the Secrets Manager API (NAT)
      assert.match(JSON.stringify(app.props.Parameters.vpcSubnetIds), /VpcappSubnet1.*VpcappSubnet2/);
      assert.deepEqual(app.props.Parameters.vpcSecurityGroupIds, { 'Fn::GetAtt': [idByPath(tpl, 'RotationSecurityGroup/Resource'), 'GroupId'] });
      assert.equal(tpl.toJSON().Transform, 'AWS::Serverless-2016-10-31');
    });

    test(`${stage}: RotationSucceeded of that secret -> Lambda -> ecs UpdateService forceNewDeployment, least privilege`, () => {
      const rule = only(tpl, 'AWS::Events::Rule').props;
      assert.deepEqual(rule.EventPattern, {
        source: ['aws.secretsmanager'],
        'detail-type': ['AWS Service Event via CloudTrail'],
        detail: {
          eventSource: ['secretsmanager.amazonaws.com'],
          eventName: ['RotationSucceeded'],
          additionalEventData: { SecretId: [{ Ref: serviceSecret }] },
        },
      });
      const fn = idByPath(tpl, 'RedeployOnRotation/Resource');
      assert.deepEqual(rule.Targets.map((x: any) => x.Arn), [{ 'Fn::GetAtt': [fn, 'Arn'] }]);
      assert.equal(rule.Targets[0].RetryPolicy.MaximumRetryAttempts, 8);
      const props = (resources(tpl, 'AWS::Lambda::Function') as any)[fn].Properties;
      assert.deepEqual(props.Environment.Variables, {
        CLUSTER: { Ref: only(tpl, 'AWS::ECS::Cluster').id },
        SERVICE: { 'Fn::GetAtt': [only(tpl, 'AWS::ECS::Service').id, 'Name'] },
      });
      assert.equal(props.Code.ZipFile, readFileSync(join(ROOT, 'lib', 'redeploy-on-rotation.js'), 'utf8'));
      assert.match(props.Runtime, /^nodejs\d+\.x$/);
      const roleId = props.Role['Fn::GetAtt'][0];
      const role = (resources(tpl, 'AWS::IAM::Role') as any)[roleId].Properties;
      assert.equal(role.ManagedPolicyArns, undefined, 'no managed policy');
      assert.deepEqual(role.AssumeRolePolicyDocument.Statement[0].Principal, { Service: 'lambda.amazonaws.com' });
      const statements = Object.values(resources(tpl, 'AWS::IAM::Policy'))
        .filter((p) => p.Properties.Roles.some((r: any) => r.Ref === roleId))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      assert.deepEqual(statements, [
        { Action: 'ecs:UpdateService', Effect: 'Allow', Resource: { Ref: only(tpl, 'AWS::ECS::Service').id }, Sid: 'ForceNewDeploymentOfThisServiceOnly' },
        { Action: ['logs:CreateLogStream', 'logs:PutLogEvents'], Effect: 'Allow', Resource: { 'Fn::GetAtt': [idByPath(tpl, 'RedeployOnRotationLogGroup/Resource'), 'Arn'] }, Sid: 'WriteOwnLogs' },
      ]);
      const permission = only(tpl, 'AWS::Lambda::Permission').props;
      assert.equal(permission.Principal, 'events.amazonaws.com');
      assert.deepEqual(permission.SourceArn, { 'Fn::GetAtt': [only(tpl, 'AWS::Events::Rule').id, 'Arn'] });
    });
  }

  test('the Lambda code forces a new deployment of its service, and refuses other events', async () => {
    const sent: any[] = [];
    class UpdateServiceCommand {
      constructor(readonly input: unknown) {}
    }
    const fakeSdk = {
      UpdateServiceCommand,
      ECSClient: class {
        async send(cmd: any) {
          sent.push(cmd);
          return { service: { deployments: [{ id: 'ecs-svc/123', status: 'PRIMARY' }, { id: 'ecs-svc/old', status: 'ACTIVE' }] } };
        }
      },
    };
    const resolve = (Module as any)._load;
    (Module as any)._load = function (request: string, ...rest: unknown[]) {
      return request === '@aws-sdk/client-ecs' ? fakeSdk : resolve.call(this, request, ...rest);
    };
    process.env.CLUSTER = 'timewarp-production';
    process.env.SERVICE = 'TimeWarp-production-Service-ABC';
    try {
      const handler = require(join(ROOT, 'lib', 'redeploy-on-rotation.js')).handler;
      const out = await handler({ detail: { eventName: 'RotationSucceeded', additionalEventData: { SecretId: 'arn:aws:secretsmanager:x' } } });
      assert.equal(sent.length, 1);
      assert.ok(sent[0] instanceof UpdateServiceCommand);
      assert.deepEqual(sent[0].input, { cluster: 'timewarp-production', service: 'TimeWarp-production-Service-ABC', forceNewDeployment: true });
      assert.deepEqual(out, { cluster: 'timewarp-production', service: 'TimeWarp-production-Service-ABC', deployment: 'ecs-svc/123' });
      await assert.rejects(handler({ detail: { eventName: 'RotationFailed' } }), /unexpected event/);
      assert.equal(sent.length, 1, 'nothing redeployed for another event');
    } finally {
      (Module as any)._load = resolve;
    }
  });

  test('rotation off (the small profile default): no schedule, no Lambda; rotation on without NAT adds a Secrets Manager endpoint', () => {
    const off = Template.fromStack(build({ ...BASE_CONTEXT, profile: 'small' }, false).stages.production!);
    off.resourceCountIs('AWS::SecretsManager::RotationSchedule', 0);
    // The one function is the small profile's parameter generator (test/suites/small.ts), not a rotation.
    assert.deepEqual(Object.values(resources(off, 'AWS::Lambda::Function')).map((f) => f.Properties.Description), [
      "Time Warp production: generate the service's database password and SECRET_KEY in Parameter Store",
    ]);
    off.resourceCountIs('AWS::Events::Rule', 0);
    off.resourceCountIs('AWS::EC2::VPCEndpoint', 0);
    const on = Template.fromStack(build({ ...BASE_CONTEXT, profile: 'small', rotation: 'true' }, false).stages.production!);
    on.resourceCountIs('AWS::SecretsManager::RotationSchedule', 1);
    const endpoint = only(on, 'AWS::EC2::VPCEndpoint').props;
    assert.match(JSON.stringify(endpoint.ServiceName), /secretsmanager/);
    assert.equal(endpoint.PrivateDnsEnabled, true);
    assert.equal(endpoint.SubnetIds.length, 1, 'one AZ');
    const app = only(on, 'AWS::Serverless::Application').props;
    assert.match(JSON.stringify(app.Parameters.vpcSubnetIds), /VpcdbSubnet1/, 'the isolated subnet beside the endpoint');
  });
});
