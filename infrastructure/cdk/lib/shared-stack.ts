/*
 * Resources both stages share: the ECR repository (an image is built once and
 * promoted from staging to production) and, when a GitHub repository is named,
 * one deploy role per stage that the workflow assumes through GitHub's OIDC
 * provider, so the pipeline holds no long-lived AWS keys.
 */
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { REPOSITORY_NAME, STAGES, type StageName } from './config';

export interface SharedStackProps extends StackProps {
  /** "owner/name" of the GitHub repository allowed to deploy; no deploy roles when absent. */
  readonly githubRepository?: string;
  /**
   * ARN of the account's GitHub OIDC provider. There can be only one per account, so by default
   * the stack imports the one with the well-known ARN (create it once, see docs/DEPLOYMENT.md).
   */
  readonly githubOidcProviderArn?: string;
  /** Create the OIDC provider here instead (only when the account has none). */
  readonly createGithubOidcProvider?: boolean;
}

export const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';
/** The only branch a deploy role accepts; the subject claim carries it (see docs/DEPLOYMENT.md). */
export const DEPLOY_BRANCH = 'main';

/**
 * The OIDC subject a deploy job presents once the repository's subject claim is customised to
 * include the ref (include_claim_keys ["repo", "context", "ref"]): its environment and its branch.
 */
export const deploySubject = (repo: string, stage: StageName) =>
  `repo:${repo}:environment:${stage}:ref:refs/heads/${DEPLOY_BRANCH}`;

export class SharedStack extends Stack {
  readonly repository: ecr.Repository;
  readonly deployRoles: Partial<Record<StageName, iam.Role>> = {};

  constructor(scope: Construct, id: string, props: SharedStackProps = {}) {
    super(scope, id, props);

    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: REPOSITORY_NAME,
      imageScanOnPush: true,
      // A tag (the git commit) always names the same image, so "roll back to tag X" is exact.
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      // Images are what rollbacks run: never delete them with the stack. But a failed first
      // create removes the repository again (RetainExceptOnCreate), so the retry can create it.
      removalPolicy: RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE,
      lifecycleRules: [
        {
          rulePriority: 1,
          description: 'Untagged layers left by interrupted pushes',
          tagStatus: ecr.TagStatus.UNTAGGED,
          maxImageAge: Duration.days(7),
        },
        {
          rulePriority: 2,
          description: 'Keep the 50 newest images: months of rollback targets at a few MB each',
          tagStatus: ecr.TagStatus.ANY,
          maxImageCount: 50,
        },
      ],
    });
    new CfnOutput(this, 'RepositoryName', { value: this.repository.repositoryName });
    new CfnOutput(this, 'RepositoryUri', { value: this.repository.repositoryUri });

    if (props.githubRepository) {
      if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(props.githubRepository)) {
        throw new Error(`context githubRepository must be "owner/name", got ${JSON.stringify(props.githubRepository)}`);
      }
      const providerArn = this.githubOidcProvider(props);
      for (const stage of STAGES) this.deployRoles[stage] = this.githubDeployRole(props.githubRepository, providerArn, stage);
    }
  }

  /* Import the account's provider (its ARN is fixed by its URL), or create it when asked. */
  private githubOidcProvider(props: SharedStackProps): string {
    if (props.createGithubOidcProvider) {
      const provider = new iam.OidcProviderNative(this, 'GithubOidc', {
        url: `https://${GITHUB_OIDC_HOST}`,
        clientIds: ['sts.amazonaws.com'],
      });
      // Other stacks or tools may trust it later: keep it, except after a failed first create.
      provider.applyRemovalPolicy(RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE);
      return provider.oidcProviderArn;
    }
    return props.githubOidcProviderArn ?? `arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:oidc-provider/${GITHUB_OIDC_HOST}`;
  }

  /*
   * One role per stage. It trusts only jobs of this repository running in the GitHub
   * environment named after the stage, on main; and it can touch only that stage's stack,
   * cluster, task definitions, tasks, roles and logs. A staging job (unreviewed) or a
   * workflow_dispatch from an edited branch can therefore never update production.
   */
  private githubDeployRole(repo: string, providerArn: string, stage: StageName): iam.Role {
    const Stage = stage[0].toUpperCase() + stage.slice(1);
    const name = `timewarp-${stage}`;
    const role = new iam.Role(this, `GithubDeployRole${Stage}`, {
      description: `Assumed by ${repo}'s ${stage} deploy jobs (environment ${stage}, branch ${DEPLOY_BRANCH}) through GitHub OIDC`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(providerArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_OIDC_HOST}:sub`]: deploySubject(repo, stage),
        },
      }),
    });

    const arn = (service: string, resource: string) => `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
    // Staging builds and pushes; production only promotes the image staging pushed.
    if (stage === 'staging') this.repository.grantPullPush(role);
    else this.repository.grantPull(role);
    this.repository.grant(role, 'ecr:DescribeRepositories', 'ecr:DescribeImages');
    const allow = (sid: string, actions: string[], resources: string[], conditions?: Record<string, unknown>) =>
      role.addToPolicy(new iam.PolicyStatement({ sid, actions, resources, conditions }));
    allow('ReadStackOutputs', ['cloudformation:DescribeStacks'], [arn('cloudformation', `stack/TimeWarp-${stage}/*`)]);
    // No resource-level permissions exist for these (Service Authorization Reference). Registering
    // a revision of another stage's family is harmless: only this stage's service and tasks run.
    allow('TaskDefinitions', ['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition', 'ecs:ListTaskDefinitions'], ['*']);
    // Registering a revision copies the family's tags, which ECS authorizes as TagResource.
    allow('TagNewRevisions', ['ecs:TagResource'], [arn('ecs', `task-definition/${name}-*:*`)], {
      StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' },
    });
    allow('RunMigrations', ['ecs:RunTask'], [arn('ecs', `task-definition/${name}-migrate:*`)], {
      ArnEquals: { 'ecs:cluster': arn('ecs', `cluster/${name}`) },
    });
    allow('WatchTasks', ['ecs:DescribeTasks'], [arn('ecs', `task/${name}/*`)]);
    allow('UpdateService', ['ecs:UpdateService', 'ecs:DescribeServices'], [arn('ecs', `service/${name}/*`)]);
    allow('PassTaskRoles', ['iam:PassRole'], [`arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/TimeWarp-${stage}-*`], {
      StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' },
    });
    allow('ReadMigrationLogs', ['logs:GetLogEvents'], [arn('logs', `log-group:/ecs/${name}:log-stream:migrate/*`)]);

    const why = (id: string, reason: string) => Validations.of(role).acknowledge({ id, reason });
    why(
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken and ecs:Describe/Register/ListTaskDefinitions support no resource-level permissions (Service Authorization Reference); everything else is scoped to this stage.',
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/TimeWarp-${stage}/*]`,
      `Read-only DescribeStacks on the TimeWarp-${stage} stack, whose id ends in a random suffix.`,
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/${name}-migrate:*]`,
      `RunTask on any revision of the ${name}-migrate family, in the ${name} cluster only: the pipeline registers a new revision per deploy.`,
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/${name}-*:*]`,
      `TagResource only while registering revisions (condition ecs:CreateAction) of the ${name} task definition families.`,
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/${name}/*]`,
      `Task ids are random: DescribeTasks on tasks of the ${name} cluster only.`,
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/${name}/*]`,
      `Service names are generated by CloudFormation: scoped to services of the ${name} cluster.`,
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/TimeWarp-${stage}-*]`,
      `PassRole for the ${stage} task and execution roles (names generated with the TimeWarp-${stage}- stack prefix), only to ecs-tasks.amazonaws.com.`,
    );
    why(
      `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/ecs/${name}:log-stream:migrate/*]`,
      `Read the ${stage} migrate task log streams (named after the random task id) to show why a migration failed.`,
    );

    new CfnOutput(this, `GithubDeployRoleArn${Stage}`, {
      value: role.roleArn,
      description: `Set as the AWS_DEPLOY_ROLE_ARN_${stage.toUpperCase()} variable of the GitHub repository`,
    });
    return role;
  }
}
