//! Running a project unattended: `schedules.yml` ([`spec`]) says which `orderlake` commands run
//! when, and the [`scheduler`] runs them on time — inside `orderlake serve` or on its own as
//! `orderlake scheduler`.
//!
//! This crate knows neither the engine nor the desk: a run is handed to a [`Launcher`] (the CLI
//! starts `orderlake <command>` as a child process, so a job runs exactly the code a person
//! would type, and a crash or a timeout takes down only that run) and kept by a [`Recorder`]
//! (the CLI appends it to the warehouse's `_orderlake.job_runs`).

pub mod scheduler;
pub mod spec;

pub use scheduler::{
    Board, Clock, Finished, JobRun, Launcher, Outcome, Recorder, Running, Scheduler, Trigger,
};
pub use spec::{
    Action, CatchUp, ExportSource, Invocation, Job, SCHEDULES_FILE, Schedule, Schedules, SpecError,
};
