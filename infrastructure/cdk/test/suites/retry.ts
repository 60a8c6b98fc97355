/*
 * A failed first deploy can simply be run again: nothing a rolled-back create leaves behind may
 * collide with the retry. Every resource CloudFormation would keep is checked, in every variant.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { ALL_OPTIONS_CONTEXT, attributes, BASE_CONTEXT, build, only } from '../helpers';

/* The property that fixes a resource's name, for the types that can be retained here. */
const NAME_PROPERTY: Record<string, string> = {
  'AWS::Logs::LogGroup': 'LogGroupName',
  'AWS::S3::Bucket': 'BucketName',
  'AWS::ECR::Repository': 'RepositoryName',
  'AWS::SecretsManager::Secret': 'Name',
  'AWS::RDS::DBInstance': 'DBInstanceIdentifier',
  'AWS::SNS::Topic': 'TopicName',
  'AWS::IAM::OIDCProvider': 'Url', // one per URL and account: its URL is its name
  'AWS::KMS::Key': '(none)',
};

const variants: Record<string, Record<string, unknown>> = {
  default: BASE_CONTEXT,
  'all options': { ...ALL_OPTIONS_CONTEXT, createGithubOidcProvider: 'true' },
  'small profile': { ...BASE_CONTEXT, profile: 'small', githubRepository: 'example-org/timewarp' },
  'small profile with rotation': { ...BASE_CONTEXT, profile: 'small', rotation: 'true' },
  'first deploy': { ...BASE_CONTEXT, firstDeploy: 'true' },
};

describe('a failed first deploy can be run again', () => {
  for (const [variant, context] of Object.entries(variants)) {
    const built = build(context, false);
    const stacks = [built.shared, ...Object.values(built.stages)].map((s) => ({ name: s!.stackName, tpl: Template.fromStack(s!) }));

    test(`${variant}: every retained resource is RetainExceptOnCreate, or kept under a generated name`, () => {
      let retained = 0;
      for (const { name, tpl } of stacks) {
        for (const [id, r] of Object.entries(tpl.toJSON().Resources as Record<string, any>)) {
          const policy = r.DeletionPolicy;
          if (policy === undefined || policy === 'Delete') continue;
          retained++;
          const where = `${name}/${id} (${r.Type}, ${policy})`;
          if (policy === 'RetainExceptOnCreate') continue; // removed again when its create rolls back
          if (policy === 'Snapshot') {
            // deleted (after a snapshot under a generated name) when its create rolls back
            assert.equal(r.Type, 'AWS::RDS::DBInstance', where);
            continue;
          }
          assert.equal(policy, 'Retain', where);
          const nameProperty = NAME_PROPERTY[r.Type];
          assert.ok(nameProperty, `${where}: a retained type this test knows`);
          assert.notEqual(r.Type, 'AWS::IAM::OIDCProvider', `${where}: the provider's URL is its name`);
          assert.equal(r.Properties?.[nameProperty], undefined, `${where}: a leftover with a fixed name would block the retry`);
        }
      }
      assert.ok(retained > 0, 'the check saw retained resources');
    });

    test(`${variant}: secrets have generated names (a deleted secret's name stays taken for its recovery window)`, () => {
      for (const { tpl } of stacks) {
        for (const r of Object.values(tpl.findResources('AWS::SecretsManager::Secret'))) assert.equal(r.Properties.Name, undefined);
      }
    });
  }

  test('production: log groups (fixed names) and the ECR repository are RetainExceptOnCreate', () => {
    const built = build(BASE_CONTEXT, false);
    const prod = Template.fromStack(built.stages.production!);
    const groups = Object.values(prod.findResources('AWS::Logs::LogGroup'));
    assert.ok(groups.length >= 4);
    for (const g of groups) assert.equal(g.DeletionPolicy, 'RetainExceptOnCreate', JSON.stringify(g.Properties.LogGroupName));
    const repo = Object.values(Template.fromStack(built.shared).findResources('AWS::ECR::Repository'))[0];
    assert.equal(repo.DeletionPolicy, 'RetainExceptOnCreate');
  });

  test('deletion protection (RDS, ALB) is off for the first create and on afterwards in production', () => {
    const protections = (context: Record<string, unknown>) => {
      const tpl = Template.fromStack(build(context, false).stages.production!);
      const alb = attributes(only(tpl, 'AWS::ElasticLoadBalancingV2::LoadBalancer').props.LoadBalancerAttributes);
      return [only(tpl, 'AWS::RDS::DBInstance').props.DeletionProtection, alb['deletion_protection.enabled']];
    };
    assert.deepEqual(protections(BASE_CONTEXT), [true, 'true']);
    assert.deepEqual(protections({ ...BASE_CONTEXT, 'production:firstDeploy': 'true' }), [false, 'false']);
  });

  test('the first create runs no task, so nothing serves before the migration; the next deploy starts them', () => {
    const first = Template.fromStack(build({ ...BASE_CONTEXT, 'production:firstDeploy': 'true' }, false).stages.production!);
    assert.equal(only(first, 'AWS::ECS::Service').props.DesiredCount, 0);
    assert.equal(only(first, 'AWS::ApplicationAutoScaling::ScalableTarget').props.MinCapacity, 0);
    first.resourceCountIs('AWS::ECS::TaskDefinition', 2); // the migrate task exists to be run
    const next = Template.fromStack(build(BASE_CONTEXT, false).stages.production!);
    assert.equal(only(next, 'AWS::ECS::Service').props.DesiredCount, 2);
  });
});
