/*
 * Builds the whole app; shared by bin/timewarp.ts (cdk synth/deploy) and the tests,
 * so that both synthesize exactly the same thing.
 */
import { App, type AppProps, Tags, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { resolveStageConfig, selectedStages, type StageName } from './config';
import { SharedStack } from './shared-stack';
import { TimeWarpStack } from './timewarp-stack';

export interface TimeWarpApp {
  readonly app: App;
  readonly shared: SharedStack;
  readonly stages: Partial<Record<StageName, TimeWarpStack>>;
}

export const stackName = (stage: StageName | 'shared') => `TimeWarp-${stage}`;

export function buildApp(props?: AppProps & { nag?: boolean }): TimeWarpApp {
  const app = new App(props);
  Tags.of(app).add('project', 'timewarp');

  const githubRepository = app.node.tryGetContext('githubRepository') || undefined;
  const githubOidcProviderArn = app.node.tryGetContext('githubOidcProviderArn') || undefined;
  const createGithubOidcProvider = String(app.node.tryGetContext('createGithubOidcProvider') ?? 'false');
  if (createGithubOidcProvider !== 'true' && createGithubOidcProvider !== 'false') {
    throw new Error(`context createGithubOidcProvider must be true or false, got ${JSON.stringify(createGithubOidcProvider)}`);
  }
  const shared = new SharedStack(app, stackName('shared'), {
    description: 'Time Warp: shared image repository and per-stage deploy roles',
    githubRepository,
    githubOidcProviderArn,
    createGithubOidcProvider: createGithubOidcProvider === 'true',
  });

  const stages: Partial<Record<StageName, TimeWarpStack>> = {};
  for (const stage of selectedStages(app.node)) {
    const config = resolveStageConfig(app.node, stage);
    const stack = new TimeWarpStack(app, stackName(stage), {
      description: `Time Warp ${stage}: ALB -> ECS Fargate -> RDS PostgreSQL`,
      config,
      terminationProtection: stage === 'production',
    });
    Tags.of(stack).add('stage', stage);
    stages[stage] = stack;
  }

  // cdk-nag AwsSolutions: synthesis fails on any finding that is neither fixed nor acknowledged.
  if (props?.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, shared, stages };
}
