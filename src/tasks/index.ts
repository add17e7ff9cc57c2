/** Schedulers: delay and cancel per path, one re-run, single job, pools; shell commands as argv; file rules; the serialized run-on-change runner. */
export { parseDuration, type Duration } from './duration.js';
export { FileManagerRule, FileManagerScheduler, expandTemplate, type FileAction, type FileManagerRuleOptions, type FileManagerSchedulerOptions } from './file-manager.js';
export { LOG_LEVELS, LogSink, Logger, defaultSink, stderrIsJournal, type LogLevel, type LoggingOptions } from './log.js';
export {
  Cancel, SCHEDULER_OPTION_KEYS, TaskScheduler, isCancel, isScheduler, type CancelAction, type Job, type JobContext, type SchedulerOptions,
  type TaskEvent, type TaskSchedulerOptions,
} from './scheduler.js';
export { ShellScheduler, splitArgv, substituteArgv, taskEnv, type ShellSchedulerOptions } from './shell.js';
export { PipelineScheduler, fillPlaceholders, type PipelineFile, type PipelineSchedulerOptions, type PipelineStep, type StepContext, type StepFunction, type WaitingFile } from './pipeline.js';
export { failureLogPath, readFailureLog, retryFailed, type FailureLog, type StepRecord } from './failed-area.js';
export {
  ChangeRunner, DEFAULT_IGNORES, runOnChange, type ChangeRunnerEvents, type RunFunction, type RunOnChangeOptions,
} from './run-on-change.js';
export {
  BUSY_POLICIES, SerialRunner, type BusyPolicy, type Execute, type RecoveryOptions, type RunBatch, type RunOutcome, type RunReason,
  type SerialRunnerEvents, type SerialRunnerOptions,
} from './serial-runner.js';
export { compileIgnoreFile } from './ignore-file.js';
