/*
 * cdk-nag AwsSolutions: nothing unacknowledged, and every acknowledgement is
 * specific (names one rule or one IAM finding, on the construct it concerns,
 * with a real reason) and still needed (a finding exists for it).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Stack, Validations } from 'aws-cdk-lib';
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';
import { ALL_OPTIONS_CONTEXT, BASE_CONTEXT, build, REPO_ROOT } from '../helpers';

/** The same rule pack, blind to acknowledgements: every finding, fixed or not. */
class AllFindings extends AwsSolutionsChecks {}
(AllFindings.prototype as any).isAcknowledged = () => false;

interface Ack {
  path: string;
  id: string;
  reason: string;
}

function acknowledgements(root: IConstruct): Ack[] {
  const out: Ack[] = [];
  const walk = (c: IConstruct) => {
    for (const m of c.node.metadata) {
      if (m.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(m.data as Record<string, string>)) {
        // aws-cdk-lib acknowledges some of its own built-in template checks; only ours count here.
        const rule = id.replace(/^annotation::/i, '');
        if (rule.startsWith('AwsSolutions-')) out.push({ path: c.node.path, id: rule, reason });
      }
    }
    c.node.children.forEach(walk);
  };
  walk(root);
  return out;
}

const variants = {
  default: BASE_CONTEXT,
  'all options': ALL_OPTIONS_CONTEXT,
  'small profile': { ...BASE_CONTEXT, profile: 'small' },
  // CloudFront in front of the production ALB (test/suites/cdn.ts has its own assertions).
  cdn: { ...BASE_CONTEXT, 'production:cdn': 'true', 'production:cloudFrontPrefixListId': 'pl-3b927c52' },
};
const used = new Set<string>();
const allAcks = new Map<string, Ack>();

describe('cdk-nag AwsSolutions', () => {
  for (const [variant, context] of Object.entries(variants)) {
    const { app } = build(context, false);

    test(`${variant}: no unacknowledged error or warning on any stack`, () => {
      const report = new AwsSolutionsChecks().validateScope(app);
      const lines = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
      assert.deepEqual(lines, []);
      assert.equal(report.success, true);
    });

    test(`${variant}: synthesis leaves no warning or error annotation on any stack`, () => {
      for (const stack of app.node.children.filter((c): c is Stack => c instanceof Stack)) {
        const a = Annotations.fromStack(stack);
        assert.deepEqual(a.findWarning('*', Match.anyValue()), [], `${stack.stackName} warnings`);
        assert.deepEqual(a.findError('*', Match.anyValue()), [], `${stack.stackName} errors`);
      }
    });

    test(`${variant}: every finding is covered by an acknowledgement on its own construct or an ancestor`, () => {
      const acks = acknowledgements(app);
      for (const a of acks) allAcks.set(`${a.path} ${a.id}`, a);
      const findings = new AllFindings().validateScope(app).violations;
      assert.ok(findings.length > 0, 'the pack does run and finds the acknowledged items');
      for (const f of findings) {
        for (const r of f.violatingResources) {
          const path = r.constructPath ?? '';
          const covering = acks.filter((a) => a.id === f.ruleName && (path === a.path || path.startsWith(`${a.path}/`)));
          assert.ok(covering.length > 0, `${f.ruleName} on ${path} is acknowledged`);
          for (const a of covering) used.add(`${a.path} ${a.id}`);
        }
      }
    });
  }

  test('acknowledgements are specific: one rule or one IAM finding each, with a concrete reason', () => {
    assert.ok(allAcks.size > 0);
    for (const a of allAcks.values()) {
      assert.match(a.id, /^AwsSolutions-[A-Z]+\d+(\[[^\]]+\])?$/, a.id);
      if (/^AwsSolutions-IAM[45]/.test(a.id)) assert.match(a.id, /\[(Resource|Action|Policy)::.+\]$/, `${a.id} names the finding`);
      assert.ok(a.reason.length >= 60, `reason for ${a.id} on ${a.path} says why: "${a.reason}"`);
    }
    const stackLevel = [...allAcks.values()].filter((a) => !a.path.includes('/'));
    assert.deepEqual(stackLevel, [], 'nothing is acknowledged for a whole stack');
  });

  test('docs/DEPLOYMENT.md lists every acknowledged rule', () => {
    const doc = readFileSync(join(REPO_ROOT, 'docs', 'DEPLOYMENT.md'), 'utf8');
    const table = doc.slice(doc.indexOf('## cdk-nag acknowledgements'));
    const rules = new Set([...allAcks.values()].map((a) => a.id.replace(/^AwsSolutions-/, '').replace(/\[.*$/, '')));
    for (const rule of rules) assert.match(table, new RegExp(`\\b${rule}\\b`), rule);
  });

  test('no stale acknowledgements: each one matches a finding in at least one variant', () => {
    const stale = [...allAcks.keys()].filter((k) => !used.has(k));
    assert.deepEqual(stale, []);
  });
});
