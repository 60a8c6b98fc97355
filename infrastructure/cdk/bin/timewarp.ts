#!/usr/bin/env node
/*
 * The CDK app: the shared stack (ECR, deploy role) and one stack per selected stage.
 * Environment-agnostic on purpose: the account and region come from the credentials
 * used by `cdk deploy`, and synthesis never calls AWS.
 */
import { buildApp } from '../lib/app';

buildApp();
