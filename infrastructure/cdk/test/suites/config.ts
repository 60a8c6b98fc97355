/* Context parameters: overrides per stage or for all, and clear errors for bad values. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { BASE_CONTEXT, build, CDK_JSON, only } from '../helpers';

const withoutKey = (key: string) => Object.fromEntries(Object.entries(BASE_CONTEXT).filter(([k]) => k !== key));

describe('configuration', () => {
  test('cdk.json: notices and CLI telemetry off, no version reporting, app run through tsx', () => {
    assert.equal(CDK_JSON.notices, false);
    assert.equal(CDK_JSON.versionReporting, false);
    assert.equal(CDK_JSON.context['cli-telemetry'], false);
    assert.equal(CDK_JSON.context['@aws-cdk/core:enableAdditionalMetadataCollection'], false);
    assert.match(CDK_JSON.app, /^node --import tsx bin\/timewarp\.ts$/);
  });

  test('stacks are environment-agnostic (no account/region, hence no lookups)', () => {
    const built = build(BASE_CONTEXT, false);
    for (const stack of [built.shared, built.stages.staging!, built.stages.production!]) {
      assert.equal(stack.environment, 'aws://unknown-account/unknown-region');
    }
    assert.deepEqual(Object.keys(built.stages), ['staging', 'production']);
    assert.equal(built.stages.production!.terminationProtection, true);
    assert.equal(built.stages.staging!.terminationProtection, false);
  });

  test('stage-specific context wins over global context, which wins over the defaults', () => {
    const built = build(
      { ...BASE_CONTEXT, desiredCount: '3', maxCount: '8', 'production:desiredCount': '4', 'staging:dbInstanceClass': 'db.t4g.medium', 'staging:multiAz': 'true' },
      false,
    );
    const staging = Template.fromStack(built.stages.staging!);
    const production = Template.fromStack(built.stages.production!);
    assert.equal(only(staging, 'AWS::ECS::Service').props.DesiredCount, 3);
    assert.equal(only(production, 'AWS::ECS::Service').props.DesiredCount, 4);
    assert.equal(only(production, 'AWS::ApplicationAutoScaling::ScalableTarget').props.MaxCapacity, 8);
    assert.equal(only(staging, 'AWS::RDS::DBInstance').props.DBInstanceClass, 'db.t4g.medium');
    assert.equal(only(staging, 'AWS::RDS::DBInstance').props.MultiAZ, true);
    assert.equal(only(production, 'AWS::RDS::DBInstance').props.DBInstanceClass, 'db.t4g.small');
  });

  test('"stages" selects which stage stacks are built ("none": only the shared stack)', () => {
    const built = build({ ...withoutKey('production:domainName'), stages: 'staging' }, false);
    assert.deepEqual(Object.keys(built.stages), ['staging']);
    const sharedOnly = build({ stages: 'none', githubRepository: 'example-org/timewarp' }, false);
    assert.deepEqual(Object.keys(sharedOnly.stages), []);
    assert.deepEqual(sharedOnly.app.node.children.map((c) => c.node.id), ['TimeWarp-shared']);
  });

  test('NAT gateway count is a parameter', () => {
    const built = build({ ...BASE_CONTEXT, 'production:natGateways': '1' }, false);
    Template.fromStack(built.stages.production!).resourceCountIs('AWS::EC2::NatGateway', 1);
  });

  test('encryptLogs=false: no customer-managed key at all; logs under CloudWatch\'s own encryption; the topic TLS-only', () => {
    const built = build({ ...BASE_CONTEXT, encryptLogs: 'false' }, false);
    const tpl = Template.fromStack(built.stages.staging!);
    for (const g of Object.values(tpl.findResources('AWS::Logs::LogGroup'))) assert.equal(g.Properties.KmsKeyId, undefined);
    tpl.resourceCountIs('AWS::KMS::Key', 0);
    // alarms cannot publish to a topic under the AWS-managed SNS key: no key rather than a broken one
    assert.equal(only(tpl, 'AWS::SNS::Topic').props.KmsMasterKeyId, undefined);
    const policy = JSON.stringify(only(tpl, 'AWS::SNS::TopicPolicy').props);
    assert.match(policy, /aws:SecureTransport/);
  });

  const errors: [string, Record<string, unknown>, RegExp][] = [
    ['missing certificate', withoutKey('certificateArn'), /certificateArn is required/],
    ['malformed certificate', { ...BASE_CONTEXT, certificateArn: 'arn:aws:iam::123:role/x' }, /certificateArn is required/],
    ['missing domain', withoutKey('production:domainName'), /production:domainName is required/],
    ['domain with a scheme', { ...BASE_CONTEXT, 'staging:domainName': 'https://x.example.com' }, /staging:domainName/],
    ['missing image tag', withoutKey('imageTag'), /imageTag is required/],
    ['desired above max', { ...BASE_CONTEXT, desiredCount: '9' }, /minCount <= desiredCount <= maxCount/],
    ['non-integer count', { ...BASE_CONTEXT, minCount: 'two' }, /minCount must be an integer/],
    ['bad boolean', { ...BASE_CONTEXT, multiAz: 'yes' }, /multiAz must be true or false/],
    ['backups under 7 days', { ...BASE_CONTEXT, backupRetentionDays: '3' }, /backupRetentionDays must be an integer in \[7, 35\]/],
    ['Spot in production', { ...BASE_CONTEXT, 'production:fargateSpot': 'true' }, /fargateSpot is for non-production/],
    ['log retention CloudWatch refuses', { ...BASE_CONTEXT, logRetentionDays: '31' }, /logRetentionDays must be one of/],
    ['zone id without name', { ...BASE_CONTEXT, 'staging:hostedZoneId': 'Z1' }, /both hostedZoneId and hostedZoneName/],
    ['domain outside the zone', { ...BASE_CONTEXT, 'staging:hostedZoneId': 'Z1', 'staging:hostedZoneName': 'other.org' }, /not inside hosted zone/],
    ['unknown stage', { ...BASE_CONTEXT, stages: 'staging,qa' }, /unknown stage "qa"/],
    ['empty stage list', { ...BASE_CONTEXT, stages: ' , ' }, /context stages is empty/],
    ['bad GitHub repository', { ...BASE_CONTEXT, githubRepository: 'not a repo' }, /githubRepository must be "owner\/name"/],
  ];
  for (const [what, context, message] of errors) {
    test(`refuses to synthesize: ${what}`, () => {
      assert.throws(() => build(context, false), message);
    });
  }
});
