/*
 * The small profile (an MVP at the lowest price): one task of Fargate's smallest size in one AZ,
 * db.t4g.micro single-AZ, no NAT gateway (tasks in public subnets that accept only the ALB), and
 * every other guarantee of the standard profile (same alarms, checks, secrets, deploy alarms).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { BASE_CONTEXT, build, defaultTemplates, idByPath, only, resources } from '../helpers';

const small = Template.fromStack(build({ ...BASE_CONTEXT, 'production:profile': 'small' }, false).stages.production!);
const standard = defaultTemplates().production;
const subnetsOf = (tpl: Template, type: string) =>
  Object.entries(resources(tpl, 'AWS::EC2::Subnet'))
    .filter(([, s]) => s.Properties.Tags.some((x: any) => x.Key === 'aws-cdk:subnet-type' && x.Value === type))
    .map(([id, s]) => ({ id, az: JSON.stringify(s.Properties.AvailabilityZone) }));

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
    const target = only(small, 'AWS::ApplicationAutoScaling::ScalableTarget').props;
    assert.deepEqual([target.MinCapacity, target.MaxCapacity], [1, 2]);
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

  test('keeps every guarantee but Multi-AZ: same alarms, health checks, deploy alarms, secrets, timing', () => {
    const names = (tpl: Template) => Object.values(resources(tpl, 'AWS::CloudWatch::Alarm')).map((a) => a.Properties.AlarmName).sort();
    assert.deepEqual(names(small), names(standard));
    const tg = (tpl: Template) => {
      const p = only(tpl, 'AWS::ElasticLoadBalancingV2::TargetGroup').props;
      return [p.HealthCheckPath, p.HealthCheckIntervalSeconds, p.UnhealthyThresholdCount, p.TargetGroupAttributes];
    };
    assert.deepEqual(tg(small), tg(standard));
    const svc = (tpl: Template) => only(tpl, 'AWS::ECS::Service').props.DeploymentConfiguration;
    assert.deepEqual(svc(small).DeploymentCircuitBreaker, { Enable: true, Rollback: true });
    assert.equal(svc(small).Alarms.Rollback, true);
    const serve = (tpl: Template) =>
      Object.values(resources(tpl, 'AWS::ECS::TaskDefinition')).find((r) => r.Properties.Family.endsWith('-serve'))!.Properties.ContainerDefinitions[0];
    for (const key of ['HealthCheck', 'StopTimeout', 'ReadonlyRootFilesystem', 'User', 'Environment']) {
      assert.deepEqual(JSON.stringify(serve(small)[key]).replace(/Vpc\w+/g, ''), JSON.stringify(serve(standard)[key]).replace(/Vpc\w+/g, ''), key);
    }
    assert.equal(serve(small).Secrets.length, serve(standard).Secrets.length);
    only(small, 'AWS::CloudWatch::Dashboard');
    assert.equal(Object.keys(resources(small, 'AWS::Logs::QueryDefinition')).length, 3);
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
});
