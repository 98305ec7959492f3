// Test helpers for packages that add `adapters` subcommands: run the CLI in-process against a temp project.
export { linkAdapterPackages, runCliIn } from './cli-harness';
export type { CliRun } from './cli-harness';
