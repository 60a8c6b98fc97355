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
const ROLLBACK = readFileSync(join(REPO_ROOT, '.github', 'workflows', 'rollback.yml'), 'utf8');
const rb = parse(ROLLBACK);

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

  test('runs on every push to main (and by hand); one concurrency group per stage, never cancelled halfway', () => {
    assert.deepEqual(wf.on.push.branches, ['main']);
    assert.ok('workflow_dispatch' in wf.on);
    assert.equal(wf.concurrency, undefined, 'no workflow-wide group: a run waiting for production approval must not block staging');
    assert.deepEqual(wf.jobs.staging.concurrency, { group: 'deploy-staging', 'cancel-in-progress': false });
    assert.deepEqual(wf.jobs.production.concurrency, { group: 'deploy-production', 'cancel-in-progress': false });
    assert.equal(wf.jobs.test.concurrency, undefined, 'tests of every push run in parallel');
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
      assert.equal(creds[0].with['role-to-assume'], `\${{ vars.AWS_DEPLOY_ROLE_ARN_${stage.toUpperCase()} }}`, 'its own stage\'s role');
      assert.equal(job.if, "github.ref == 'refs/heads/main'", 'deploy jobs run from main only (the role trusts main only)');
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

  test('the image is tested as ECS runs it after the build and before the push', () => {
    const steps = wf.jobs.staging.steps.map((s: any) => String(s.run ?? ''));
    const build = steps.indexOf('scripts/deploy.sh --tag "$IMAGE_TAG" staging build');
    const check = steps.indexOf('scripts/test-image.sh "timewarp:$IMAGE_TAG"');
    const push = steps.indexOf('scripts/deploy.sh --tag "$IMAGE_TAG" staging push');
    assert.ok(build >= 0 && build < check && check < push, `build ${build} < test ${check} < push ${push}`);
    const script = readFileSync(join(REPO_ROOT, 'scripts', 'test-image.sh'), 'utf8');
    for (const check of ['platform-linux-amd64', 'migrate-read-only-rootfs', 'serve-read-only-rootfs', 'healthcheck', 'post-submission', 'get-submission', 'sigterm-exit-0']) {
      assert.ok(script.includes(`pass ${check}`), check);
    }
    assert.match(script, /--read-only/);
    assert.match(readFileSync(join(REPO_ROOT, 'scripts', 'deploy.sh'), 'utf8'), /docker build --platform "\$PLATFORM"/);
  });

  test('production: promotes the same image (no rebuild) -> migrate -> update -> wait -> verify', () => {
    assert.deepEqual(deploySteps(wf.jobs.production, 'production'), ['exists', 'migrate', 'update', 'wait', 'verify']);
  });

  test('rollback workflow: by hand, per stage environment, role and concurrency group, from main', () => {
    assert.deepEqual(validateWorkflow(ROLLBACK).errors, []);
    assert.deepEqual(Object.keys(rb.on), ['workflow_dispatch']);
    assert.deepEqual(rb.on.workflow_dispatch.inputs.stage.options, ['staging', 'production']);
    assert.deepEqual(rb.permissions, { contents: 'read' });
    const job = rb.jobs.rollback;
    assert.equal(job.if, "github.ref == 'refs/heads/main'");
    assert.equal(job.environment.name, '${{ inputs.stage }}');
    assert.equal(job.concurrency.group, '${{ inputs.stage }}'.replace(/^/, 'deploy-'), 'shares the deploy job\'s group');
    assert.deepEqual(job.permissions, { contents: 'read', 'id-token': 'write' });
    const creds = job.steps.find((s: any) => String(s.uses).startsWith('aws-actions/configure-aws-credentials@'));
    assert.equal(
      creds.with['role-to-assume'],
      "${{ inputs.stage == 'production' && vars.AWS_DEPLOY_ROLE_ARN_PRODUCTION || vars.AWS_DEPLOY_ROLE_ARN_STAGING }}",
    );
    const run = job.steps.find((s: any) => String(s.run ?? '').includes('scripts/deploy.sh'));
    assert.equal(run.run, 'scripts/deploy.sh rollback "$STAGE" ${TASK_DEFINITION:+"$TASK_DEFINITION"}');
    assert.deepEqual(run.env, { STAGE: '${{ inputs.stage }}', TASK_DEFINITION: '${{ inputs.task_definition }}' }, 'inputs reach the shell as variables, never spliced into it');
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

describe('docker/docker-compose.yml', () => {
  const compose = parse(readFileSync(join(REPO_ROOT, 'docker', 'docker-compose.yml'), 'utf8'), { merge: true });

  test('builds the image once: exactly one service has build:, the other user of timewarp:dev never pulls or builds', () => {
    const users = Object.entries<any>(compose.services).filter(([, s]) => s.image === 'timewarp:dev');
    assert.deepEqual(users.map(([n]) => n).sort(), ['app', 'migrate']);
    const builders = users.filter(([, s]) => s.build);
    assert.deepEqual(builders.map(([n]) => n), ['migrate'], 'compose v2 builds in parallel: two builders of one tag fail');
    assert.deepEqual(compose.services.migrate.build, { context: '..', dockerfile: 'docker/Dockerfile' });
    assert.equal(compose.services.app.build, undefined);
    assert.equal(compose.services.app.pull_policy, 'never');
    // app starts only after migrate, so the image exists by then
    assert.equal(compose.services.app.depends_on.migrate.condition, 'service_completed_successfully');
  });
});
