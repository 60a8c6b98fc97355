/*
 * AWS WAF on the ALB (issue 13, item 2): on in production, off in staging and the small profile
 * unless asked. Every rule, its priority and action, the rate arithmetic against the server's own
 * limits, the association, the log (name, retention, redaction, filter) are pinned here.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Template } from 'aws-cdk-lib/assertions';
import { STAGE_DEFAULTS } from '../../lib/config';
import { APP_RATE_LIMITS_PER_MINUTE, RATE_LIMITED_PATHS, WAF_RATE_WINDOW_SECONDS, wafRateLimit } from '../../lib/waf';
import { BASE_CONTEXT, build, defaultTemplates, idByPath, only, REPO_ROOT, resources } from '../helpers';

const prod = defaultTemplates().production;
const acl = () => only(prod, 'AWS::WAFv2::WebACL');
const rules = () => acl().props.Rules as any[];
const rule = (name: string) => rules().find((r) => r.Name === name);

describe('WAF: the web ACL of production', () => {
  test('one regional web ACL, default allow, these rules in this order with these actions', () => {
    const p = acl().props;
    assert.equal(p.Scope, 'REGIONAL');
    assert.equal(p.Name, 'timewarp-production');
    assert.deepEqual(p.DefaultAction, { Allow: {} });
    const summary = rules().map((r) => [r.Priority, r.Name, r.Action ? Object.keys(r.Action)[0] : `override:${Object.keys(r.OverrideAction)[0]}`]);
    assert.deepEqual(summary, [
      [10, 'aws-AWSManagedRulesAmazonIpReputationList', 'override:None'],
      [20, 'rate-contributors', 'Block'],
      [21, 'rate-submissions', 'Block'],
      [22, 'rate-reports', 'Block'],
      [30, 'aws-AWSManagedRulesKnownBadInputsRuleSet', 'override:None'],
      [40, 'aws-AWSManagedRulesCommonRuleSet', 'override:None'],
    ]);
    for (const r of [...rules(), p]) {
      assert.equal(r.VisibilityConfig.CloudWatchMetricsEnabled, true);
      assert.equal(r.VisibilityConfig.SampledRequestsEnabled, true);
      assert.match(r.VisibilityConfig.MetricName, /^timewarp-production-/);
    }
  });

  test('the managed groups are AWS\'s, unversioned, with only SizeRestrictions_BODY of the common set overridden to Count', () => {
    const groups = rules().filter((r) => r.Statement.ManagedRuleGroupStatement).map((r) => r.Statement.ManagedRuleGroupStatement);
    assert.deepEqual(groups.map((g) => [g.VendorName, g.Name]), [
      ['AWS', 'AWSManagedRulesAmazonIpReputationList'],
      ['AWS', 'AWSManagedRulesKnownBadInputsRuleSet'],
      ['AWS', 'AWSManagedRulesCommonRuleSet'],
    ]);
    for (const g of groups) assert.equal(g.ExcludedRules, undefined);
    assert.equal(groups[0].RuleActionOverrides, undefined);
    assert.equal(groups[1].RuleActionOverrides, undefined);
    // A submission with 10,000 characters of notes is > 8 KB; the server's own limit is 1 MiB.
    assert.deepEqual(groups[2].RuleActionOverrides, [{ Name: 'SizeRestrictions_BODY', ActionToUse: { Count: {} } }]);
  });

  test('rate rules: per IP, POST only, one per limited route, over a 5-minute window', () => {
    for (const kind of ['contributors', 'submissions', 'reports'] as const) {
      const r = rule(`rate-${kind}`).Statement.RateBasedStatement;
      assert.equal(r.AggregateKeyType, 'IP');
      assert.equal(r.EvaluationWindowSec, 300);
      const [method, path] = r.ScopeDownStatement.AndStatement.Statements;
      assert.deepEqual(method.ByteMatchStatement, {
        FieldToMatch: { Method: {} },
        PositionalConstraint: 'EXACTLY',
        SearchString: 'POST',
        TextTransformations: [{ Priority: 0, Type: 'NONE' }],
      });
      assert.deepEqual(path.RegexMatchStatement.FieldToMatch, { UriPath: {} });
      assert.equal(path.RegexMatchStatement.RegexString, RATE_LIMITED_PATHS[kind]);
    }
  });

  test('the path patterns cover the routes the router serves, and nothing else', () => {
    const re = (kind: keyof typeof RATE_LIMITED_PATHS) => new RegExp(rule(`rate-${kind}`).Statement.RateBasedStatement.ScopeDownStatement.AndStatement.Statements[1].RegexMatchStatement.RegexString);
    const cases: [keyof typeof RATE_LIMITED_PATHS, string, boolean][] = [
      ['contributors', '/contributors', true],
      ['contributors', '/contributors/', true], // the router treats a trailing slash as the same route
      ['contributors', '/contributors/ctr_1', false],
      ['submissions', '/submissions', true],
      ['submissions', '/submissions/sub_1', false],
      ['reports', '/clips/clp_0123/reports', true],
      ['reports', '/clips/clp_0123/reports/', true],
      ['reports', '/clips/clp_0123/neighbors', false],
      ['reports', '/clips//reports', false],
      ['reports', '/admin/clips/clp_0123/hide', false],
      ['reports', '/clips/a/b/reports', false],
    ];
    for (const [kind, path, hit] of cases) assert.equal(re(kind).test(path), hit, `${kind} ${path}`);
    // and each route the patterns name is a POST route of src/router.c
    const router = readFileSync(join(REPO_ROOT, 'src', 'router.c'), 'utf8');
    for (const route of ['/contributors', '/submissions', '/clips/{id}/reports']) assert.match(router, new RegExp(`\\{"${route.replace(/[{}]/g, '\\$&')}", "POST"`), route);
  });

  test('limits: what ONE task admits in the window (burst N + N per minute), from the server\'s own production defaults', () => {
    // src/config.c: production defaults, per 60 s
    const config = readFileSync(join(REPO_ROOT, 'src', 'config.c'), 'utf8');
    const fromC: Record<string, number> = {};
    for (const [, kind, n] of config.matchAll(/rate_limits\[RATE_(\w+)\] = \(struct rate_limit\)\{production \? (\d+) : 0, 60\}/g)) fromC[kind.toLowerCase()] = Number(n);
    assert.deepEqual(fromC, APP_RATE_LIMITS_PER_MINUTE);
    assert.equal(WAF_RATE_WINDOW_SECONDS, 300);
    const limits = Object.fromEntries((['contributors', 'submissions', 'reports'] as const).map((k) => [k, rule(`rate-${k}`).Statement.RateBasedStatement.Limit]));
    assert.deepEqual(limits, { contributors: 60, submissions: 180, reports: 60 });
    for (const k of ['contributors', 'submissions', 'reports'] as const) {
      const n = APP_RATE_LIMITS_PER_MINUTE[k];
      assert.equal(limits[k], wafRateLimit(n));
      // never below what one task serves in 300 s (burst n, then n per minute: n + 5n - 1) ...
      assert.ok(limits[k] >= n + 5 * n - 1);
      // ... and the cluster-wide cap is one task's allowance, not maxCount tasks' allowance
      assert.ok(limits[k] < STAGE_DEFAULTS.production.minCount * (n + 5 * n - 1));
      assert.ok(limits[k] >= 10, 'WAF refuses limits below 10');
    }
  });

  test('a rate block answers 429 in the API\'s error format, with Retry-After of one window', () => {
    for (const kind of ['contributors', 'submissions', 'reports']) {
      assert.deepEqual(rule(`rate-${kind}`).Action.Block.CustomResponse, {
        ResponseCode: 429,
        CustomResponseBodyKey: 'rate-limited',
        ResponseHeaders: [{ Name: 'Retry-After', Value: '300' }],
      });
    }
    const body = acl().props.CustomResponseBodies['rate-limited'];
    assert.equal(body.ContentType, 'APPLICATION_JSON');
    const parsed = JSON.parse(body.Content);
    assert.equal(parsed.error.code, 'RATE_LIMITED');
    assert.deepEqual(Object.keys(parsed).sort(), ['detail', 'error']);
    assert.deepEqual(parsed.error.details, {});
  });

  test('associated with the stage\'s ALB', () => {
    const assoc = only(prod, 'AWS::WAFv2::WebACLAssociation').props;
    assert.deepEqual(assoc.ResourceArn, { Ref: idByPath(prod, 'LoadBalancer/Resource') });
    assert.deepEqual(assoc.WebACLArn, { 'Fn::GetAtt': [acl().id, 'Arn'] });
  });

  test('logs to aws-waf-logs-timewarp-production (retention, KMS, kept on delete but not after a failed create)', () => {
    const id = idByPath(prod, 'Waf/LogGroup/Resource');
    const lg = (resources(prod, 'AWS::Logs::LogGroup') as any)[id];
    assert.equal(lg.Properties.LogGroupName, 'aws-waf-logs-timewarp-production');
    assert.equal(lg.Properties.RetentionInDays, STAGE_DEFAULTS.production.logRetentionDays);
    assert.deepEqual(lg.Properties.KmsKeyId, { 'Fn::GetAtt': [idByPath(prod, '/Key/Resource'), 'Arn'] });
    assert.equal(lg.DeletionPolicy, 'RetainExceptOnCreate');
  });

  test('logging: to that group (ARN without ":*"), Authorization redacted, only blocked and counted requests', () => {
    const cfg = only(prod, 'AWS::WAFv2::LoggingConfiguration').props;
    assert.deepEqual(cfg.ResourceArn, { 'Fn::GetAtt': [acl().id, 'Arn'] });
    const [dest, ...more] = cfg.LogDestinationConfigs;
    assert.deepEqual(more, []);
    const arn = JSON.stringify(dest);
    assert.ok(arn.includes(':log-group:'), arn);
    assert.ok(arn.includes(idByPath(prod, 'Waf/LogGroup/Resource')), 'names the WAF log group');
    assert.ok(!arn.includes(':*'), 'no ":*" suffix');
    assert.deepEqual(cfg.RedactedFields, [{ SingleHeader: { Name: 'authorization' } }]);
    assert.deepEqual(cfg.LoggingFilter, {
      DefaultBehavior: 'DROP',
      Filters: [{ Behavior: 'KEEP', Requirement: 'MEETS_ANY', Conditions: [{ ActionCondition: { Action: 'BLOCK' } }, { ActionCondition: { Action: 'COUNT' } }] }],
    });
  });
});

describe('WAF: where it is off, and the switch', () => {
  test('staging has none by default; the small profile has none, even in production', () => {
    const d = defaultTemplates();
    d.staging.resourceCountIs('AWS::WAFv2::WebACL', 0);
    d.staging.resourceCountIs('AWS::WAFv2::LoggingConfiguration', 0);
    const small = Template.fromStack(build({ ...BASE_CONTEXT, 'production:profile': 'small' }, false).stages.production!);
    small.resourceCountIs('AWS::WAFv2::WebACL', 0);
    small.resourceCountIs('AWS::WAFv2::WebACLAssociation', 0);
    assert.equal(small.toJSON().Outputs.WebAclArn, undefined);
  });

  test('-c staging:waf=true adds the same ACL to staging, with staging\'s log retention; -c production:waf=false removes it', () => {
    const built = build({ ...BASE_CONTEXT, 'staging:waf': 'true', 'production:waf': 'false' }, false);
    const staging = Template.fromStack(built.stages.staging!);
    const rulesOf = (t: Template) => (only(t, 'AWS::WAFv2::WebACL').props.Rules as any[]).map((r) => [r.Priority, r.Name]);
    assert.deepEqual(rulesOf(staging), rulesOf(prod));
    staging.resourceCountIs('AWS::WAFv2::WebACLAssociation', 1);
    const lg = (resources(staging, 'AWS::Logs::LogGroup') as any)[idByPath(staging, 'Waf/LogGroup/Resource')];
    assert.equal(lg.Properties.LogGroupName, 'aws-waf-logs-timewarp-staging');
    assert.equal(lg.Properties.RetentionInDays, STAGE_DEFAULTS.staging.logRetentionDays);
    assert.equal(lg.DeletionPolicy, 'Delete');
    Template.fromStack(built.stages.production!).resourceCountIs('AWS::WAFv2::WebACL', 0);
    assert.throws(() => build({ ...BASE_CONTEXT, waf: 'maybe' }, false), /waf must be true or false/);
  });
});
