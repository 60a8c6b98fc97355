/*
 * .github/workflows/deploy.yml: valid against the GitHub workflow JSON schema
 * (bundled in @action-validator/core, checked offline), and shaped as the
 * pipeline must be: tests, then staging, then production; OIDC only; steps in
 * the rollout order, each one a step of scripts/deploy.sh.
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { validateWorkflow } from '@action-validator/core';
import { parse } from 'yaml';
import { REPO_ROOT } from './helpers';

const FILE = join(REPO_ROOT, '.github', 'workflows', 'deploy.yml');
const text = readFileSync(FILE, 'utf8');
const wf = parse(text);

/** The deploy.sh steps a job runs, in order. */
function deploySteps(job: any, stage: string): string[] {
  return job.steps
    .filter((s: any) => typeof s.run === 'string' && s.run.includes('scripts/deploy.sh'))
    .map((s: any) => {
      const m = s.run.match(/^scripts\/deploy\.sh --tag "\$IMAGE_TAG" (\S+) (\S+)$/);
      assert.ok(m, `deploy step runs scripts/deploy.sh --tag "$IMAGE_TAG" STAGE STEP: ${s.run}`);
      assert.equal(m[1], stage);
      return m[2];
    });
}

describe('deploy workflow', () => {
  test('is valid against the GitHub workflow schema', () => {
    const state = validateWorkflow(text);
    assert.deepEqual(state.errors, []);
  });

  test('the schema check does catch mistakes (a job without runs-on, a bad permission)', () => {
    const broken = text.replace('    runs-on: ubuntu-24.04\n    timeout-minutes: 90\n', '    timeout-minutes: 90\n');
    assert.notEqual(broken, text);
    assert.ok(validateWorkflow(broken).errors.length > 0);
    assert.ok(validateWorkflow(text.replace('id-token: write', 'id-token: always')).errors.length > 0);
  });

  test('runs on every push to main (and by hand), one rollout at a time', () => {
    assert.deepEqual(wf.on.push.branches, ['main']);
    assert.ok('workflow_dispatch' in wf.on);
    assert.equal(wf.concurrency['cancel-in-progress'], false, 'a running rollout is never cancelled halfway');
    assert.equal(wf.env.IMAGE_TAG, '${{ github.sha }}');
    assert.deepEqual(wf.permissions, { contents: 'read' }, 'least privilege by default');
  });

  test('make test first; staging only after it; production only after staging', () => {
    assert.deepEqual(Object.keys(wf.jobs), ['test', 'staging', 'production']);
    assert.ok(wf.jobs.test.steps.some((s: any) => s.run === 'make test'));
    assert.equal(wf.jobs.staging.needs, 'test');
    assert.equal(wf.jobs.production.needs, 'staging');
    assert.equal(wf.jobs.staging.environment.name, 'staging');
    assert.equal(wf.jobs.production.environment.name, 'production');
  });

  test('AWS access only through OIDC: id-token write, role-to-assume, no stored keys', () => {
    assert.equal(wf.jobs.test.permissions, undefined, 'the test job gets no token');
    for (const stage of ['staging', 'production']) {
      const job = wf.jobs[stage];
      assert.deepEqual(job.permissions, { contents: 'read', 'id-token': 'write' });
      const creds = job.steps.filter((s: any) => String(s.uses).startsWith('aws-actions/configure-aws-credentials@'));
      assert.equal(creds.length, 1);
      assert.equal(creds[0].with['role-to-assume'], '${{ vars.AWS_DEPLOY_ROLE_ARN }}');
      assert.equal(creds[0].with['aws-region'], '${{ env.AWS_REGION }}');
      assert.equal(creds[0].with['aws-access-key-id'], undefined);
      const before = job.steps.indexOf(creds[0]);
      const firstDeploy = job.steps.findIndex((s: any) => String(s.run).includes('scripts/deploy.sh'));
      assert.ok(before < firstDeploy, 'credentials come before the first AWS call');
    }
    assert.doesNotMatch(text, /AWS_ACCESS_KEY_ID|AWS_SECRET_ACCESS_KEY|aws-secret-access-key/);
  });

  test('staging: build -> push -> migrate -> update -> wait -> verify', () => {
    assert.deepEqual(deploySteps(wf.jobs.staging, 'staging'), ['build', 'push', 'migrate', 'update', 'wait', 'verify']);
  });

  test('production: promotes the same image (no rebuild) -> migrate -> update -> wait -> verify', () => {
    assert.deepEqual(deploySteps(wf.jobs.production, 'production'), ['exists', 'migrate', 'update', 'wait', 'verify']);
  });

  test('no step may fail silently', () => {
    for (const [name, job] of Object.entries<any>(wf.jobs)) {
      for (const s of job.steps) {
        assert.notEqual(s['continue-on-error'], true, `${name}: ${s.name}`);
        assert.equal(s.if, undefined, `${name}: ${s.name} always runs after a success`);
      }
      assert.ok(job['timeout-minutes'] > 0, `${name} has a timeout`);
    }
    assert.equal(wf.defaults.run.shell, 'bash', 'bash -eo pipefail for run steps');
  });

  test('every script a step runs exists and is executable', () => {
    for (const job of Object.values<any>(wf.jobs)) {
      for (const s of job.steps) {
        const m = String(s.run ?? '').match(/^(scripts\/\S+\.sh)/);
        if (!m) continue;
        assert.ok(existsSync(join(REPO_ROOT, m[1])), m[1]);
        assert.ok((statSync(join(REPO_ROOT, m[1])).mode & 0o111) !== 0, `${m[1]} is executable`);
      }
    }
  });
});
