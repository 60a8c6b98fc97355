/*
 * Resources both stages share: the ECR repository (an image is built once and
 * promoted from staging to production) and, when a GitHub repository is named,
 * the role the deploy workflow assumes through GitHub's OIDC provider, so the
 * pipeline holds no long-lived AWS keys.
 */
import { Aws, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import * as ecr from 'aws-cdk-lib/aws-ecr';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import { REPOSITORY_NAME } from './config';

export interface SharedStackProps extends StackProps {
  /** "owner/name" of the GitHub repository allowed to deploy; no deploy role when absent. */
  readonly githubRepository?: string;
  /** ARN of an existing GitHub OIDC provider in the account (there can be only one per account). */
  readonly githubOidcProviderArn?: string;
}

const GITHUB_OIDC_HOST = 'token.actions.githubusercontent.com';

export class SharedStack extends Stack {
  readonly repository: ecr.Repository;
  readonly deployRole?: iam.Role;

  constructor(scope: Construct, id: string, props: SharedStackProps = {}) {
    super(scope, id, props);

    this.repository = new ecr.Repository(this, 'Repository', {
      repositoryName: REPOSITORY_NAME,
      imageScanOnPush: true,
      // A tag (the git commit) always names the same image, so "roll back to tag X" is exact.
      imageTagMutability: ecr.TagMutability.IMMUTABLE,
      encryption: ecr.RepositoryEncryption.AES_256,
      // Images are what rollbacks run: never delete them with the stack.
      removalPolicy: RemovalPolicy.RETAIN,
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
      this.deployRole = this.githubDeployRole(props.githubRepository, props.githubOidcProviderArn);
    }
  }

  private githubDeployRole(repo: string, providerArn?: string): iam.Role {
    const provider = providerArn
      ? iam.OidcProviderNative.fromOidcProviderArn(this, 'GithubOidc', providerArn)
      : new iam.OidcProviderNative(this, 'GithubOidc', {
          url: `https://${GITHUB_OIDC_HOST}`,
          clientIds: ['sts.amazonaws.com'],
        });

    // Only the deploy jobs of this repository, running in a GitHub environment
    // named after a stage (environments can require a reviewer for production).
    const role = new iam.Role(this, 'GithubDeployRole', {
      description: `Assumed by ${repo}'s deploy workflow through GitHub OIDC`,
      maxSessionDuration: Duration.hours(1),
      assumedBy: new iam.WebIdentityPrincipal(provider.oidcProviderArn, {
        StringEquals: {
          [`${GITHUB_OIDC_HOST}:aud`]: 'sts.amazonaws.com',
          [`${GITHUB_OIDC_HOST}:sub`]: [`repo:${repo}:environment:staging`, `repo:${repo}:environment:production`],
        },
      }),
    });

    const arn = (service: string, resource: string) => `arn:${Aws.PARTITION}:${service}:${Aws.REGION}:${Aws.ACCOUNT_ID}:${resource}`;
    // Push and pull on this repository (and the account-wide ECR login token, which has no resource).
    this.repository.grantPullPush(role);
    this.repository.grant(role, 'ecr:DescribeRepositories', 'ecr:DescribeImages');
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadStackOutputs',
        actions: ['cloudformation:DescribeStacks'],
        resources: [arn('cloudformation', 'stack/TimeWarp-*/*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'TaskDefinitions',
        actions: ['ecs:DescribeTaskDefinition', 'ecs:RegisterTaskDefinition'],
        resources: ['*'],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        // Registering a revision copies the family's tags, which ECS authorizes as TagResource.
        sid: 'TagNewRevisions',
        actions: ['ecs:TagResource'],
        resources: [arn('ecs', 'task-definition/timewarp-*:*')],
        conditions: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'RunMigrations',
        actions: ['ecs:RunTask'],
        resources: [arn('ecs', 'task-definition/timewarp-*-migrate:*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'WatchTasks',
        actions: ['ecs:DescribeTasks'],
        resources: [arn('ecs', 'task/timewarp-*/*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'UpdateService',
        actions: ['ecs:UpdateService', 'ecs:DescribeServices'],
        resources: [arn('ecs', 'service/timewarp-*/*')],
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'PassTaskRoles',
        actions: ['iam:PassRole'],
        resources: [`arn:${Aws.PARTITION}:iam::${Aws.ACCOUNT_ID}:role/TimeWarp-*`],
        conditions: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } },
      }),
    );
    role.addToPolicy(
      new iam.PolicyStatement({
        sid: 'ReadMigrationLogs',
        actions: ['logs:GetLogEvents'],
        resources: [arn('logs', 'log-group:/ecs/timewarp-*:log-stream:migrate/*')],
      }),
    );

    const why = (id: string, reason: string) => Validations.of(role).acknowledge({ id, reason });
    why(
      'AwsSolutions-IAM5[Resource::*]',
      'ecr:GetAuthorizationToken and ecs:Describe/RegisterTaskDefinition support no resource-level permissions (Service Authorization Reference); everything else is scoped to TimeWarp names.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:cloudformation:<AWS::Region>:<AWS::AccountId>:stack/TimeWarp-*/*]',
      'Read-only DescribeStacks on the TimeWarp stacks, whose ids end in a random suffix.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/timewarp-*-migrate:*]',
      'RunTask on any revision of the migrate families: the pipeline registers a new revision per deploy.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task-definition/timewarp-*:*]',
      'TagResource only while registering revisions (condition ecs:CreateAction) of the TimeWarp task definition families.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:task/timewarp-*/*]',
      'Task ids are random: DescribeTasks on tasks of the TimeWarp clusters only.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:ecs:<AWS::Region>:<AWS::AccountId>:service/timewarp-*/*]',
      'Service names are generated by CloudFormation: scoped to services of the TimeWarp clusters.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/TimeWarp-*]',
      'PassRole for the task and execution roles (names generated with the TimeWarp- stack prefix), only to ecs-tasks.amazonaws.com.',
    );
    why(
      'AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/ecs/timewarp-*:log-stream:migrate/*]',
      'Read the migrate task log streams (named after the random task id) to show why a migration failed.',
    );

    new CfnOutput(this, 'GithubDeployRoleArn', {
      value: role.roleArn,
      description: 'Set as the AWS_DEPLOY_ROLE_ARN variable of the GitHub repository',
    });
    return role;
  }
}
