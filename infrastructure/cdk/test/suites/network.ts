/* VPC layout, NAT, flow logs and the least-privilege security group rules. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Match } from 'aws-cdk-lib/assertions';
import { defaultTemplates, idByPath, resources, only, STAGE_NAMES } from '../helpers';

const t = defaultTemplates();

describe('network', () => {
  for (const stage of STAGE_NAMES) {
    const tpl = t[stage];

    test(`${stage}: two AZs, each with a public, an app (NAT egress) and an isolated db subnet`, () => {
      const subnets = Object.values(resources(tpl, 'AWS::EC2::Subnet'));
      assert.equal(subnets.length, 6);
      const byType = (type: string) =>
        subnets.filter((s) => s.Properties.Tags.some((x: any) => x.Key === 'aws-cdk:subnet-type' && x.Value === type));
      assert.equal(byType('Public').length, 2);
      assert.equal(byType('Private').length, 2);
      assert.equal(byType('Isolated').length, 2);
      for (const s of byType('Public')) assert.equal(s.Properties.MapPublicIpOnLaunch, true);
      for (const s of [...byType('Private'), ...byType('Isolated')]) assert.equal(s.Properties.MapPublicIpOnLaunch, false);
      const azs = new Set(subnets.map((s) => JSON.stringify(s.Properties.AvailabilityZone)));
      assert.equal(azs.size, 2, 'subnets spread over exactly two availability zones');
    });

    test(`${stage}: NAT gateways per stage (staging 1, production 2) and no route to the internet from db subnets`, () => {
      tpl.resourceCountIs('AWS::EC2::NatGateway', stage === 'production' ? 2 : 1);
      const routes = Object.values(resources(tpl, 'AWS::EC2::Route')).map((r) => r.Properties);
      const natRoutes = routes.filter((r) => r.NatGatewayId);
      assert.equal(natRoutes.length, 2, 'both app subnets route 0.0.0.0/0 through a NAT gateway');
      // 2 public routes to the IGW + 2 app routes to NAT; isolated subnets have none.
      assert.equal(routes.length, 4);
    });

    test(`${stage}: VPC flow logs capture ALL traffic into a log group with retention`, () => {
      const flow = only(tpl, 'AWS::EC2::FlowLog').props;
      assert.equal(flow.TrafficType, 'ALL');
      assert.equal(flow.ResourceType, 'VPC');
      assert.equal(flow.LogDestinationType, 'cloud-watch-logs');
      tpl.hasResourceProperties('AWS::Logs::LogGroup', {
        LogGroupName: `/vpc/timewarp-${stage}/flow-logs`,
        RetentionInDays: stage === 'production' ? 90 : 30,
        KmsKeyId: Match.anyValue(),
      });
    });

    test(`${stage}: ingress is exactly internet->ALB 443/80, ALB->tasks 8000, tasks and rotation function->DB 5432`, () => {
      const alb = idByPath(tpl, 'LoadBalancerSecurityGroup/Resource');
      const svc = idByPath(tpl, 'ServiceSecurityGroup/Resource');
      const db = idByPath(tpl, 'DatabaseSecurityGroup/Resource');
      const rot = idByPath(tpl, 'RotationSecurityGroup/Resource');
      const port = (p: any) => (typeof p === 'number' ? p : JSON.stringify(p).includes('Endpoint.Port') ? 5432 : JSON.stringify(p));
      const rules: string[] = [];
      const src = (r: any) => r.CidrIp ?? r.CidrIpv6 ?? r.SourceSecurityGroupId?.['Fn::GetAtt']?.[0] ?? JSON.stringify(r);
      for (const [id, sg] of Object.entries(resources(tpl, 'AWS::EC2::SecurityGroup'))) {
        for (const r of sg.Properties.SecurityGroupIngress ?? []) rules.push(`${id} ${r.IpProtocol} ${r.FromPort}-${r.ToPort} from ${src(r)}`);
      }
      for (const r of Object.values(resources(tpl, 'AWS::EC2::SecurityGroupIngress')).map((x) => x.Properties)) {
        rules.push(`${r.GroupId['Fn::GetAtt'][0]} ${r.IpProtocol} ${port(r.FromPort)}-${port(r.ToPort)} from ${src(r)}`);
      }
      assert.deepEqual(rules.sort(), [
        `${alb} tcp 443-443 from 0.0.0.0/0`,
        `${alb} tcp 80-80 from 0.0.0.0/0`,
        `${db} tcp 5432-5432 from ${rot}`,
        `${db} tcp 5432-5432 from ${svc}`,
        `${svc} tcp 8000-8000 from ${alb}`,
      ].sort());
    });

    test(`${stage}: egress is exactly ALB->tasks 8000, tasks/rotation->DB 5432 and ->443 (AWS APIs), DB none`, () => {
      const alb = idByPath(tpl, 'LoadBalancerSecurityGroup/Resource');
      const svc = idByPath(tpl, 'ServiceSecurityGroup/Resource');
      const db = idByPath(tpl, 'DatabaseSecurityGroup/Resource');
      const rot = idByPath(tpl, 'RotationSecurityGroup/Resource');
      const port = (p: any) => (typeof p === 'number' ? p : JSON.stringify(p).includes('Endpoint.Port') ? 5432 : JSON.stringify(p));
      const rules: string[] = [];
      for (const [id, sg] of Object.entries(resources(tpl, 'AWS::EC2::SecurityGroup'))) {
        for (const r of sg.Properties.SecurityGroupEgress ?? []) rules.push(`${id} ${r.IpProtocol} ${r.FromPort}-${r.ToPort} to ${r.CidrIp}`);
      }
      for (const r of Object.values(resources(tpl, 'AWS::EC2::SecurityGroupEgress')).map((x) => x.Properties)) {
        rules.push(`${r.GroupId['Fn::GetAtt'][0]} ${r.IpProtocol} ${port(r.FromPort)}-${port(r.ToPort)} to ${r.DestinationSecurityGroupId['Fn::GetAtt'][0]}`);
      }
      assert.deepEqual(rules.sort(), [
        `${alb} tcp 8000-8000 to ${svc}`,
        `${rot} tcp 443-443 to 0.0.0.0/0`,
        `${rot} tcp 5432-5432 to ${db}`,
        // CDK's placeholder for "no egress at all" on a group with allowAllOutbound: false
        `${db} icmp 252-86 to 255.255.255.255/32`,
        `${svc} tcp 443-443 to 0.0.0.0/0`,
        `${svc} tcp 5432-5432 to ${db}`,
      ].sort());
    });
  }

  test('the two stages use different address ranges (they could be peered later)', () => {
    const cidr = (s: 'staging' | 'production') => only(t[s], 'AWS::EC2::VPC').props.CidrBlock;
    assert.equal(cidr('staging'), '10.10.0.0/16');
    assert.equal(cidr('production'), '10.20.0.0/16');
  });
});
