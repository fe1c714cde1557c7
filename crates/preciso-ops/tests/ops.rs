//! The scheduler's rules (docs/OPERATIONS.md O1–O8, O10–O14) against real stores, driven by a fake
//! clock: days of schedule run in milliseconds; and the drop-directory ingest job on real files. PostgreSQL cases run when
//! `PRECISO_TEST_PG_URL` is set (CI sets it), each on a fresh database.

use chrono::{DateTime, Duration as CDuration, Offset, TimeZone, Utc};
use chrono_tz::Tz;
use preciso_core::ports::Catalog;
use preciso_core::runs::{RunFilter, RunStatus, StepReport, StepStatus, Trigger};
use preciso_ingest::{IngestOptions, RecordContext};
use preciso_ops::jobs::ingest::DropDirJob;
use preciso_ops::{
    Clock, FakeClock, Job, JobContext, JobFailure, JobSpec, Misfire, Ops, OpsConfig, Overlap,
    RetryPolicy, Schedule, ScheduleError, Triggered,
};
use preciso_store_sqlite::SqliteCatalog;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::time::Duration;

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn sqlite() -> (tempfile::TempDir, Arc<dyn Catalog>) {
    let dir = tempfile::tempdir().unwrap();
    let c = SqliteCatalog::open(&dir.path().join("p.sqlite")).unwrap();
    (dir, Arc::new(c))
}

/// A fresh PostgreSQL database, dropped with the guard.
struct PgDb {
    admin: String,
    name: String,
    url: String,
}

impl Drop for PgDb {
    fn drop(&mut self) {
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            if let Ok(mut c) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
            }
        })
        .join();
    }
}

fn pg(tag: &str) -> Option<PgDb> {
    let Ok(admin) = std::env::var("PRECISO_TEST_PG_URL") else {
        eprintln!("skipped: PRECISO_TEST_PG_URL is not set (PostgreSQL scheduler tests)");
        return None;
    };
    let name = format!("preciso_ops_{tag}_{}", std::process::id());
    let mut c = postgres::Client::connect(&admin, postgres::NoTls).expect("PostgreSQL reachable");
    c.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let base = admin.rsplit_once('/').map(|(b, _)| b.to_string()).unwrap();
    Some(PgDb { url: format!("{base}/{name}"), admin, name })
}

/// Counts its runs; optionally fails the first `fail_first` attempts.
#[derive(Default)]
struct Counting {
    runs: AtomicU32,
    fail_first: u32,
}

impl Job for Counting {
    fn run(&self, _ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        let n = self.runs.fetch_add(1, Ordering::SeqCst) + 1;
        if n <= self.fail_first {
            return Err(JobFailure { error: format!("flaky {n}"), steps: vec![], retryable: true });
        }
        Ok(vec![StepReport {
            name: "count".into(),
            status: StepStatus::Succeeded,
            ..Default::default()
        }])
    }
}

/// Blocks until released; on cancel it runs its compensation and reports it.
#[derive(Default)]
struct Blocking {
    release: AtomicBool,
    started: AtomicBool,
    cancelled: AtomicU32,
}

impl Job for Blocking {
    fn run(&self, ctx: &JobContext) -> Result<Vec<StepReport>, JobFailure> {
        self.started.store(true, Ordering::SeqCst);
        while !self.release.load(Ordering::SeqCst) {
            if ctx.is_cancelled() {
                self.cancelled.fetch_add(1, Ordering::SeqCst);
                let step = StepReport {
                    name: "work".into(),
                    status: StepStatus::Compensated,
                    ..Default::default()
                };
                return Err(JobFailure {
                    error: "cancelled".into(),
                    steps: vec![step],
                    retryable: false,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(vec![])
    }
}

fn spec(name: &str, cron: Option<&str>, tz: &str, job: Arc<dyn Job>) -> JobSpec {
    let schedule = cron.map(|c| Schedule::parse(c, tz, false).unwrap());
    JobSpec {
        name: name.into(),
        grace: JobSpec::default_grace(schedule.as_ref()),
        schedule,
        misfire: Misfire::Coalesce,
        overlap: Default::default(),
        timeout: Duration::from_secs(60),
        retry: RetryPolicy { attempts: 1, ..Default::default() },
        description: String::new(),
        job,
    }
}

/// Heartbeats run on real time while the fake clock jumps; an hour keeps live runs fresh.
fn ops(jobs: Vec<JobSpec>, catalog: Arc<dyn Catalog>, clock: Arc<FakeClock>) -> Arc<Ops> {
    ops_with_heartbeat(jobs, catalog, clock, Duration::from_secs(3600))
}

fn ops_with_heartbeat(
    jobs: Vec<JobSpec>,
    catalog: Arc<dyn Catalog>,
    clock: Arc<FakeClock>,
    heartbeat: Duration,
) -> Arc<Ops> {
    let config = OpsConfig { poll: Duration::from_secs(60), heartbeat, ..Default::default() };
    Ops::new(jobs, catalog, clock, config)
}

/// Ticks every `step` from the clock's now until `until`, executing fired runs inline.
fn drive(
    ops: &Ops,
    sched: &mut preciso_ops::scheduler::Scheduler,
    clock: &FakeClock,
    until: DateTime<Utc>,
    step: CDuration,
) {
    while clock.now() < until {
        for fire in sched.tick().unwrap() {
            ops.runner().execute(&fire.job, fire.run_id, false);
        }
        clock.set(clock.now() + step);
    }
}

fn all_runs(c: &dyn Catalog, job: &str) -> Vec<preciso_core::runs::RunRecord> {
    c.runs(&RunFilter { job: Some(job.into()), limit: 100_000, ..Default::default() }).unwrap()
}

// ---- docs/OPERATIONS.md O1: cron syntax ------------------------------------------------------

#[test]
fn cron_is_five_fields_seconds_only_when_declared() {
    assert!(Schedule::parse("*/5 * * * *", "UTC", false).is_ok());
    let six = Schedule::parse("0 */5 * * * *", "UTC", false).unwrap_err();
    assert!(matches!(six, ScheduleError::FieldCount { found: 6, expected: 5, .. }), "{six}");
    assert!(six.to_string().contains("seconds"));
    let s = Schedule::parse("30 */5 * * * *", "UTC", true).unwrap();
    assert_eq!(s.next_after(utc("2026-01-01T00:00:00Z")), Some(utc("2026-01-01T00:00:30Z")));
    // Sub-second "now" values still find the slot at the next whole second.
    let every = Schedule::parse("*/10 * * * *", "UTC", false).unwrap();
    let just_before = utc("2026-01-01T00:09:59.999Z");
    assert_eq!(every.next_after(just_before), Some(utc("2026-01-01T00:10:00Z")));
    assert!(matches!(
        Schedule::parse("* * * *", "UTC", false),
        Err(ScheduleError::FieldCount { .. })
    ));
    assert!(matches!(
        Schedule::parse("61 * * * *", "UTC", false),
        Err(ScheduleError::Invalid { .. })
    ));
    assert!(matches!(
        Schedule::parse("* * * * *", "Mars/Olympus", false),
        Err(ScheduleError::TimeZone(_))
    ));
}

#[test]
fn the_default_ingest_schedule_in_its_zone() {
    let s = Schedule::parse("0 4-22/2 * * 1-6", "America/Bogota", false).unwrap();
    // Saturday 2026-11-28 21:00 Bogotá (UTC-5) → 22:00, then Monday 04:00 (no Sunday runs).
    let fires = s.upcoming(utc("2026-11-29T02:00:00Z"), 3);
    assert_eq!(
        fires,
        vec![utc("2026-11-29T03:00:00Z"), utc("2026-11-30T09:00:00Z"), utc("2026-11-30T11:00:00Z")]
    );
}

// ---- docs/OPERATIONS.md O2: DST policy, on every transition of the test zones ------------------

/// Instants where the zone's UTC offset changes, to the minute, in `year`.
fn transitions(tz: Tz, year: i32) -> Vec<(DateTime<Utc>, i64, i64)> {
    let offset =
        |t: DateTime<Utc>| i64::from(t.with_timezone(&tz).offset().fix().local_minus_utc());
    let mut out = Vec::new();
    let mut t = Utc.with_ymd_and_hms(year, 1, 1, 0, 0, 0).unwrap();
    let end = Utc.with_ymd_and_hms(year + 1, 1, 1, 0, 0, 0).unwrap();
    while t < end {
        let next = t + CDuration::hours(1);
        if offset(t) != offset(next) {
            let mut m = t;
            while offset(m + CDuration::minutes(1)) == offset(t) {
                m += CDuration::minutes(1);
            }
            let at = m + CDuration::minutes(1);
            out.push((at, offset(t), offset(at)));
        }
        t = next;
    }
    out
}

#[test]
fn dst_fixed_time_jobs_run_once_and_interval_jobs_keep_cadence() {
    let zones = [
        ("Europe/Madrid", 2026),
        ("America/New_York", 2026),
        ("America/Santiago", 2026),
        ("America/Sao_Paulo", 2018),
        ("Africa/Cairo", 2026),
    ];
    let mut checked = 0;
    for (zone, year) in zones {
        let tz: Tz = zone.parse().unwrap();
        let found = transitions(tz, year);
        assert!(!found.is_empty(), "{zone} has DST transitions in {year}");
        for (at, before, after) in found {
            let shift = CDuration::seconds(after - before);
            // Wall time in the middle of the gap (spring) or of the repeated hour (autumn).
            let wall = if after > before {
                (at + CDuration::seconds(before)).naive_utc() + shift / 2
            } else {
                (at + CDuration::seconds(after)).naive_utc() - shift / 2
            };
            let cron = format!(
                "{} {} * * *",
                chrono::Timelike::minute(&wall),
                chrono::Timelike::hour(&wall)
            );
            let fixed = Schedule::parse(&cron, zone, false).unwrap();
            assert!(fixed.is_fixed_time());
            let first = fixed.next_after(at - CDuration::hours(12)).unwrap();
            if after > before {
                assert_eq!(first, at, "{zone} {cron}: a time in the gap runs at the gap's end");
            } else {
                let first_pass = wall - CDuration::seconds(before);
                assert_eq!(
                    first.naive_utc(),
                    first_pass,
                    "{zone} {cron}: the first of the two passes"
                );
            }
            let second = fixed.next_after(first).unwrap();
            assert!(
                second - first > CDuration::hours(20),
                "{zone} {cron}: once, not twice ({first} then {second})"
            );

            let interval = Schedule::parse("*/15 * * * *", zone, false).unwrap();
            assert!(!interval.is_fixed_time());
            let fires = interval.upcoming(at - CDuration::hours(3), 24);
            for pair in fires.windows(2) {
                assert_eq!(
                    pair[1] - pair[0],
                    CDuration::minutes(15),
                    "{zone}: cadence kept across {at}"
                );
            }
            checked += 1;
        }
    }
    assert!(checked >= 9, "transitions checked: {checked}");
}

// ---- docs/OPERATIONS.md O3: misfire -----------------------------------------------------------

#[test]
fn downtime_across_a_daily_slot_gives_exactly_one_catch_up_run() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Counting::default());
    let o = ops(
        vec![spec("backup", Some("30 2 * * *"), "UTC", job.clone())],
        catalog.clone(),
        clock.clone(),
    );
    let mut sched = o.scheduler();
    drive(&o, &mut sched, &clock, utc("2026-03-02T00:00:00Z"), CDuration::minutes(1));
    assert_eq!(job.runs.load(Ordering::SeqCst), 1, "day one: the 02:30 slot");
    // Down from 00:00 to 03:00 of day two: the 02:30 slot passes with no scheduler.
    drop(sched);
    clock.set(utc("2026-03-02T03:00:00Z"));
    let mut sched = o.scheduler();
    drive(&o, &mut sched, &clock, utc("2026-03-02T12:00:00Z"), CDuration::minutes(1));
    let runs = all_runs(catalog.as_ref(), "backup");
    assert_eq!(runs.len(), 2, "exactly one more run");
    assert_eq!(runs[0].trigger, Trigger::CatchUp);
    assert_eq!(runs[0].scheduled_for, utc("2026-03-02T02:30:00Z").timestamp_millis());
    assert_eq!(runs[0].status, RunStatus::Succeeded);
}

#[test]
fn misses_beyond_the_grace_window_or_under_skip_do_not_run() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let late = Arc::new(Counting::default());
    let skip = Arc::new(Counting::default());
    let mut skipping = spec("every10", Some("*/10 * * * *"), "UTC", skip.clone());
    skipping.misfire = Misfire::Skip;
    let o = ops(
        vec![spec("daily", Some("30 2 * * *"), "UTC", late.clone()), skipping],
        catalog.clone(),
        clock.clone(),
    );
    let mut sched = o.scheduler();
    drive(&o, &mut sched, &clock, utc("2026-03-01T03:00:00Z"), CDuration::minutes(1));
    let (daily_before, every_before) =
        (late.runs.load(Ordering::SeqCst), skip.runs.load(Ordering::SeqCst));
    assert_eq!((daily_before, every_before), (1, 17), "02:30, and 00:10 … 02:50");
    drop(sched);
    clock.set(utc("2026-03-02T05:00:00Z")); // 2.5 h after the daily slot: beyond its 1 h grace
    let mut sched = o.scheduler();
    drive(&o, &mut sched, &clock, utc("2026-03-02T05:01:00Z"), CDuration::minutes(1));
    assert_eq!(
        late.runs.load(Ordering::SeqCst),
        daily_before,
        "no catch-up beyond the grace window"
    );
    assert_eq!(
        skip.runs.load(Ordering::SeqCst),
        every_before,
        "misfire skip: nothing for missed slots"
    );
}

#[test]
fn coalesce_runs_once_for_many_missed_slots() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Counting::default());
    let mut s = spec("every10", Some("*/10 * * * *"), "UTC", job.clone());
    s.grace = Duration::from_secs(3600);
    let o = ops(vec![s], catalog.clone(), clock.clone());
    let mut sched = o.scheduler();
    drive(&o, &mut sched, &clock, utc("2026-03-01T00:15:00Z"), CDuration::minutes(1));
    drop(sched);
    clock.set(utc("2026-03-01T03:05:00Z"));
    let mut sched = o.scheduler();
    drive(&o, &mut sched, &clock, utc("2026-03-01T03:06:00Z"), CDuration::minutes(1));
    let runs = all_runs(catalog.as_ref(), "every10");
    assert_eq!(runs.len(), 2, "the 00:10 run, then 17 missed slots coalesced into one run");
    assert_eq!(
        (runs[0].trigger, runs[0].scheduled_for),
        (Trigger::CatchUp, utc("2026-03-01T03:00:00Z").timestamp_millis())
    );
}

// ---- docs/OPERATIONS.md O4, O11: overlap, manual triggers ---------------------------------------

#[test]
fn a_fire_during_an_active_run_is_recorded_as_skipped_overlap() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Blocking::default());
    let o = ops(
        vec![spec("slow", Some("*/5 * * * *"), "UTC", job.clone())],
        catalog.clone(),
        clock.clone(),
    );
    let Triggered::Started { run_id } = o.trigger("slow", Trigger::Api, false).unwrap() else {
        panic!()
    };
    while !job.started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let Triggered::SkippedOverlap { run_id: skipped } =
        o.trigger("slow", Trigger::Manual, false).unwrap()
    else {
        panic!("a second manual trigger goes through the overlap rule")
    };
    let mut sched = o.scheduler();
    sched.tick().unwrap();
    clock.set(utc("2026-03-01T00:05:00Z"));
    assert!(sched.tick().unwrap().is_empty(), "the 00:05 slot finds the job busy");
    let runs = all_runs(catalog.as_ref(), "slow");
    let statuses: Vec<_> = runs.iter().map(|r| (r.trigger, r.status)).collect();
    assert_eq!(
        statuses,
        vec![
            (Trigger::Schedule, RunStatus::SkippedOverlap),
            (Trigger::Manual, RunStatus::SkippedOverlap),
            (Trigger::Api, RunStatus::Running)
        ]
    );
    assert_eq!(catalog.run(skipped).unwrap().unwrap().status, RunStatus::SkippedOverlap);
    job.release.store(true, Ordering::SeqCst);
    assert_eq!(o.shutdown(Duration::from_secs(5)), 0);
    assert_eq!(catalog.run(run_id).unwrap().unwrap().status, RunStatus::Succeeded);
    assert!(matches!(
        o.trigger("nope", Trigger::Api, false),
        Err(preciso_ops::OpsError::UnknownJob(_))
    ));
}

#[test]
fn overlap_allow_runs_side_by_side_and_replace_stops_the_active_run() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let side_job = Arc::new(Blocking::default());
    let newest_job = Arc::new(Blocking::default());
    let mut side = spec("side", None, "UTC", side_job.clone());
    side.overlap = Overlap::Allow;
    let mut newest = spec("newest", None, "UTC", newest_job.clone());
    newest.overlap = Overlap::Replace;
    let o = ops_with_heartbeat(
        vec![side, newest],
        catalog.clone(),
        clock.clone(),
        Duration::from_millis(20),
    );
    let started = |o: &Arc<Ops>, job: &str| match o.trigger(job, Trigger::Api, false).unwrap() {
        Triggered::Started { run_id } => run_id,
        other => panic!("{job}: {other:?}"),
    };
    let status = |id| catalog.run(id).unwrap().unwrap().status;

    // allow: a second trigger while the first runs starts a second run.
    let a1 = started(&o, "side");
    let a2 = started(&o, "side");
    assert_eq!((status(a1), status(a2)), (RunStatus::Running, RunStatus::Running));

    // replace: the second trigger closes the first as `replaced`, and its process stops it.
    let r1 = started(&o, "newest");
    while !newest_job.started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(2));
    }
    let r2 = started(&o, "newest");
    assert_eq!(status(r1), RunStatus::Replaced);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while newest_job.cancelled.load(Ordering::SeqCst) == 0 {
        assert!(std::time::Instant::now() < deadline, "the replaced run's work was not stopped");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(status(r2), RunStatus::Running);

    side_job.release.store(true, Ordering::SeqCst);
    newest_job.release.store(true, Ordering::SeqCst);
    assert_eq!(o.shutdown(Duration::from_secs(5)), 0);
    assert_eq!((status(a1), status(a2)), (RunStatus::Succeeded, RunStatus::Succeeded));
    let replaced = catalog.run(r1).unwrap().unwrap();
    assert_eq!(
        replaced.status,
        RunStatus::Replaced,
        "what the stopped run reported later is ignored"
    );
    assert_eq!(replaced.attempts[0].status, RunStatus::Replaced);
    assert_eq!(status(r2), RunStatus::Succeeded);
}

/// docs/OPERATIONS.md O10: run history is kept for the retention period; the leading scheduler
/// prunes older runs.
#[test]
fn run_history_older_than_the_retention_is_pruned_by_the_leader() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-01-01T00:00:00Z")));
    let job = Arc::new(Counting::default());
    let o = ops(vec![spec("count", None, "UTC", job)], catalog.clone(), clock.clone());
    o.run_blocking("count", Trigger::Manual, false).unwrap();
    clock.set(utc("2026-03-01T00:00:00Z"));
    o.run_blocking("count", Trigger::Manual, false).unwrap();
    let mut sched = o.scheduler().with_retention(Duration::from_secs(30 * 86_400));
    clock.set(utc("2026-03-15T00:00:00Z"));
    sched.tick().unwrap();
    let kept: Vec<i64> =
        all_runs(catalog.as_ref(), "count").iter().map(|r| r.scheduled_for).collect();
    assert_eq!(kept, vec![utc("2026-03-01T00:00:00Z").timestamp_millis()], "January's run is gone");
}

// ---- docs/OPERATIONS.md O5: timeouts ---------------------------------------------------------

#[test]
fn a_timed_out_run_is_cancelled_compensated_and_the_schedule_goes_on() {
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Blocking::default());
    let mut s = spec("slow", Some("*/5 * * * *"), "UTC", job.clone());
    s.timeout = Duration::from_millis(150);
    let o = ops(vec![s], catalog.clone(), clock.clone());
    let mut sched = o.scheduler();
    sched.tick().unwrap();
    clock.set(utc("2026-03-01T00:05:00Z"));
    let fires = sched.tick().unwrap();
    assert_eq!(fires.len(), 1);
    assert_eq!(o.runner().execute(&fires[0].job, fires[0].run_id, false), RunStatus::TimedOut);
    let run = catalog.run(fires[0].run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::TimedOut);
    assert_eq!(run.steps[0].status, StepStatus::Compensated, "the step's compensation ran");
    assert!(run.error.unwrap().contains("timed out"));
    job.release.store(true, Ordering::SeqCst);
    clock.set(utc("2026-03-01T00:10:00Z"));
    assert_eq!(sched.tick().unwrap().len(), 1, "the next fire time is unaffected");
}

// ---- docs/OPERATIONS.md O6: retries -----------------------------------------------------------

#[test]
fn retries_back_off_exponentially_with_jitter_each_attempt_recorded() {
    let policy =
        RetryPolicy { attempts: 5, base: Duration::from_secs(30), cap: Duration::from_secs(600) };
    for attempt in 1..=8 {
        let full = Duration::from_secs(30 * 2u64.pow(attempt - 1)).min(Duration::from_secs(600));
        assert_eq!(policy.delay(attempt, 0.0), full / 2);
        assert!(policy.delay(attempt, 0.999) < full && policy.delay(attempt, 0.999) > full / 2);
    }
    let (_d, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Counting { fail_first: 2, ..Default::default() });
    let mut s = spec("flaky", None, "UTC", job.clone());
    s.retry =
        RetryPolicy { attempts: 3, base: Duration::from_secs(30), cap: Duration::from_secs(600) };
    let o = ops(vec![s], catalog.clone(), clock.clone());
    let Triggered::Started { run_id } = o.run_blocking("flaky", Trigger::Manual, false).unwrap()
    else {
        panic!()
    };
    let run = catalog.run(run_id).unwrap().unwrap();
    assert_eq!((run.status, run.attempt), (RunStatus::Succeeded, 3));
    let a = &run.attempts;
    assert_eq!(
        a.iter().map(|x| x.status).collect::<Vec<_>>(),
        vec![RunStatus::Failed, RunStatus::Failed, RunStatus::Succeeded]
    );
    assert_eq!(a[0].error.as_deref(), Some("flaky 1"));
    let wait1 = a[1].started_at - a[0].finished_at.unwrap();
    let wait2 = a[2].started_at - a[1].finished_at.unwrap();
    assert!((15_000..30_000).contains(&wait1), "first backoff in [15 s, 30 s): {wait1} ms");
    assert!((30_000..60_000).contains(&wait2), "second backoff in [30 s, 60 s): {wait2} ms");
}

// ---- docs/OPERATIONS.md O7, O8, O9: identity and one leader ------------------------------------

fn replicas_share_one_schedule(catalogs: Vec<Arc<dyn Catalog>>, kill_leader: bool) {
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let counter = Arc::new(Counting::default());
    let replicas: Vec<Arc<Ops>> = catalogs
        .iter()
        .map(|c| {
            ops(
                vec![spec("every5", Some("*/5 * * * *"), "UTC", counter.clone())],
                c.clone(),
                clock.clone(),
            )
        })
        .collect();
    let mut scheds: Vec<Option<_>> = replicas.iter().map(|o| Some(o.scheduler())).collect();
    let end = utc("2026-03-02T00:00:00Z");
    let mut killed_at = None;
    let mut takeover_ticks = None;
    let mut tick = 0;
    while clock.now() < end {
        for (i, slot) in scheds.iter_mut().enumerate() {
            let Some(sched) = slot else { continue };
            for fire in sched.tick().unwrap() {
                replicas[i].runner().execute(&fire.job, fire.run_id, false);
            }
        }
        let leaders = scheds.iter().flatten().filter(|s| s.is_leader()).count();
        assert!(leaders <= 1, "never two leaders");
        if kill_leader && killed_at.is_none() && clock.now() >= utc("2026-03-01T12:00:00Z") {
            let i = scheds.iter().position(|s| s.as_ref().is_some_and(|s| s.is_leader())).unwrap();
            scheds[i] = None; // the leader dies: its lock goes with its connection or file
            killed_at = Some(tick);
        }
        if let Some(k) = killed_at
            && takeover_ticks.is_none()
            && leaders == 1
            && tick > k
        {
            takeover_ticks = Some(tick - k);
        }
        clock.set(clock.now() + CDuration::minutes(1));
        tick += 1;
        if kill_leader && killed_at.is_some() {
            // Releasing a PostgreSQL session lock happens as its connection closes.
            std::thread::sleep(Duration::from_millis(1));
        }
    }
    let runs = all_runs(catalogs[0].as_ref(), "every5");
    let mut slots: Vec<i64> = runs.iter().map(|r| r.scheduled_for).collect();
    slots.sort();
    slots.dedup();
    // Slots 00:05 … 23:55: the first scheduler starts at 00:00 and plans from there.
    assert_eq!(runs.len(), 287, "one run per 5-minute slot over 24 h, none lost at failover");
    assert_eq!(slots.len(), 287, "no slot twice");
    assert_eq!(counter.runs.load(Ordering::SeqCst), 287);
    if kill_leader {
        let t = takeover_ticks.expect("another replica took over");
        assert!(t <= 2, "takeover within 2 polls, took {t}");
    }
}

/// `n` replicas, each with its own connections, on one fresh PostgreSQL database; skipped
/// without `PRECISO_TEST_PG_URL`. Runs off the test thread (PostgreSQL's client blocks).
fn pg_replicas_share_one_schedule(tag: &str, n: usize) {
    let Some(db) = pg(tag) else { return };
    std::thread::spawn(move || {
        let catalogs: Vec<Arc<dyn Catalog>> = (0..n)
            .map(|_| {
                Arc::new(preciso_store_postgres::PgCatalog::open(&db.url).unwrap())
                    as Arc<dyn Catalog>
            })
            .collect();
        replicas_share_one_schedule(catalogs, true);
        drop(db);
    })
    .join()
    .unwrap();
}

#[test]
fn two_replicas_on_postgresql_one_run_per_slot_and_failover() {
    pg_replicas_share_one_schedule("leader2", 2);
}

#[test]
fn three_replicas_on_postgresql_one_run_per_slot_and_failover() {
    pg_replicas_share_one_schedule("leader", 3);
}

#[test]
fn two_servers_on_one_sqlite_file_one_schedules_the_other_stands_by() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.sqlite");
    let catalogs: Vec<Arc<dyn Catalog>> =
        (0..2).map(|_| Arc::new(SqliteCatalog::open(&path).unwrap()) as Arc<dyn Catalog>).collect();
    replicas_share_one_schedule(catalogs, true);
}

/// A scheduled run of `job` claimed now for `slot` in the name of `owner` (another process, as
/// the catalog sees it), left running.
fn claim_as(catalog: &dyn Catalog, job: &str, slot: i64, owner: &str, clock: &FakeClock) -> i64 {
    let run = preciso_core::runs::NewRun {
        overlap: Default::default(),
        job: job.into(),
        scheduled_for: slot,
        trigger: Trigger::Schedule,
        dry_run: false,
        owner: owner.into(),
        now: clock.now().timestamp_millis(),
    };
    let preciso_core::runs::RunClaim::Started(id) = catalog.claim_run(&run).unwrap() else {
        panic!("{job} slot {slot} not started")
    };
    id
}

/// The host part of an owner id (`host:pid:nonce`).
fn this_host(owner: &str) -> String {
    preciso_core::quality::runs::owner_host_pid(owner).expect("host:pid:nonce").0.to_string()
}

// ---- docs/OPERATIONS.md O12, O14: dry runs change nothing; abandoned runs -----------------------

#[test]
fn dry_runs_record_nothing_and_stale_runs_are_abandoned_on_the_next_start() {
    let (dir, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Counting::default());
    let o = ops_with_heartbeat(
        vec![spec("count", None, "UTC", job.clone())],
        catalog.clone(),
        clock.clone(),
        Duration::from_secs(10),
    );
    let before = std::fs::read(dir.path().join("p.sqlite")).unwrap();
    let Triggered::DryRun { status, .. } = o.trigger("count", Trigger::Api, true).unwrap() else {
        panic!()
    };
    assert_eq!(status, RunStatus::Succeeded);
    assert!(all_runs(catalog.as_ref(), "count").is_empty(), "no run row for a dry run");
    assert_eq!(
        std::fs::read(dir.path().join("p.sqlite")).unwrap(),
        before,
        "database file unchanged"
    );

    // A run whose process died: its heartbeat stops; the next scheduler abandons it.
    let id = claim_as(catalog.as_ref(), "count", 1, "dead:1:0", clock.as_ref());
    clock.set(utc("2026-03-01T00:01:00Z"));
    o.scheduler().tick().unwrap();
    let r = catalog.run(id).unwrap().unwrap();
    assert_eq!(r.status, RunStatus::Abandoned, "nothing stays running forever");
}

/// A heartbeat that waited behind this process's own long write (a SQLite load's index builds)
/// is not a dead process: its own scheduler leaves the run it executes running, and it ends as
/// it should; a run of this process that nothing executes still ages out.
#[test]
fn a_scheduler_never_abandons_its_own_processs_runs() {
    let (_dir, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let job = Arc::new(Blocking::default());
    let o = ops_with_heartbeat(
        vec![spec("block", None, "UTC", job.clone())],
        catalog.clone(),
        clock.clone(),
        Duration::from_secs(10),
    );
    let Triggered::Started { run_id } = o.trigger("block", Trigger::Api, false).unwrap() else {
        panic!()
    };
    // Its heartbeats are a minute old on the clock the scheduler reads (3× 10 s is stale).
    clock.set(utc("2026-03-01T00:01:00Z"));
    o.scheduler().tick().unwrap();
    assert_eq!(catalog.run(run_id).unwrap().unwrap().status, RunStatus::Running);
    job.release.store(true, Ordering::SeqCst);
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while catalog.run(run_id).unwrap().unwrap().status == RunStatus::Running {
        assert!(std::time::Instant::now() < deadline, "the run never ended");
        std::thread::sleep(Duration::from_millis(10));
    }
    assert_eq!(catalog.run(run_id).unwrap().unwrap().status, RunStatus::Succeeded);
    assert_eq!(job.cancelled.load(Ordering::SeqCst), 0, "never told to stop");

    // Claimed by this process but never executed (its thread never came): not live.
    // In this process's own name, so no pid check can spare it: only its live ids could.
    let me = preciso_ops::service::owner_id();
    let orphan = claim_as(catalog.as_ref(), "block", 2, &me, clock.as_ref());
    clock.set(utc("2026-03-01T00:02:00Z"));
    o.scheduler().tick().unwrap();
    assert_eq!(catalog.run(orphan).unwrap().unwrap().status, RunStatus::Abandoned);
}

/// A run of another process of this host that still exists (a CLI `preciso jobs run` whose
/// heartbeat waits behind its own long write to the same SQLite file) is spared for an hour of
/// silence, then abandoned all the same; one whose process is gone, or of another host, is
/// abandoned once its heartbeat is 3× old.
#[test]
fn a_silent_run_of_a_live_process_of_this_host_waits_out_an_hour() {
    let (_dir, catalog) = sqlite();
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let o = ops_with_heartbeat(
        vec![spec("count", None, "UTC", Arc::new(Counting::default()))],
        catalog.clone(),
        clock.clone(),
        Duration::from_secs(10),
    );
    let owner = preciso_ops::service::owner_id();
    let host = this_host(&owner);
    let claim =
        |job: &str, owner: String| claim_as(catalog.as_ref(), job, 1, &owner, clock.as_ref());
    // Pid 1 stands for the CLI: another process of this host that always exists.
    let cli = claim("cli", format!("{host}:1:00ab"));
    let gone = claim("gone", format!("{host}:{}:00cd", u32::MAX));
    let elsewhere = claim("elsewhere", format!("another-host:{}:00ef", std::process::id()));
    let status = |id| catalog.run(id).unwrap().unwrap().status;
    clock.set(utc("2026-03-01T00:10:00Z"));
    o.scheduler().tick().unwrap();
    assert_eq!(
        (status(cli), status(gone), status(elsewhere)),
        (RunStatus::Running, RunStatus::Abandoned, RunStatus::Abandoned)
    );
    clock.set(utc("2026-03-01T01:00:01Z"));
    o.scheduler().tick().unwrap();
    assert_eq!(status(cli), RunStatus::Abandoned, "an hour of silence is too long for anyone");
}

// ---- the ingest job over a drop directory --------------------------------------------------

fn dropdir_job(catalog: Arc<dyn Catalog>, inbox: &std::path::Path, full: bool) -> DropDirJob {
    let cop = preciso_core::domain::Currency::parse("COP").unwrap();
    DropDirJob {
        catalog,
        inbox: inbox.to_path_buf(),
        stable_for: Duration::from_secs(30),
        options: IngestOptions {
            format: None,
            dry_run: false,
            force: false,
            backfill: false,
            batch_size: 2,
            rejects_dir: inbox.join("../rejects"),
            fields: Default::default(),
            context: RecordContext {
                default_store: None,
                default_currency: Some(cop),
                store_currency: Default::default(),
                store_timezone: Default::default(),
                store_aliases: Default::default(),
                default_timezone: chrono_tz::UTC,
                ingest_time: 1_700_000_000,
            },
            cancel: None,
        },
        full,
        archive: None,
    }
}

/// Writes a file whose modification time is `age` in the past.
fn drop_file(dir: &std::path::Path, name: &str, body: &str, age: Duration) -> std::path::PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    let f = std::fs::File::options().write(true).open(&path).unwrap();
    f.set_modified(std::time::SystemTime::now() - age).unwrap();
    path
}

fn line(store: &str, sku: &str, price: &str) -> String {
    format!(
        "{{\"store\":\"{store}\",\"sku\":\"{sku}\",\"title\":\"Olla {sku}\",\"brand\":\"Imusa\",\"category\":\"Hogar > Cocina\",\"price\":\"{price}\"}}\n"
    )
}

#[test]
fn the_drop_dir_job_ingests_stable_files_and_sorts_them_into_processed_and_failed() {
    let (dir, catalog) = sqlite();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let old = Duration::from_secs(120);
    let good = format!(
        "{}{}{}",
        line("exito", "a", "10.000"),
        line("exito", "b", "$ 20.500"),
        line("exito", "c", "oops")
    );
    drop_file(&inbox, "exito.jsonl", &good, old);
    drop_file(&inbox, "alkosto.jsonl", &line("alkosto", "a", "15000"), old);
    // Still being written (modified just now), and an in-progress name: both wait.
    drop_file(&inbox, "jumbo.jsonl", &line("jumbo", "a", "900"), Duration::ZERO);
    drop_file(&inbox, "falabella.jsonl.part", &line("falabella", "a", "900"), old);
    // Not a data file at all.
    drop_file(&inbox, "notes.xml", "<offers/>", old);

    let job = dropdir_job(catalog.clone(), &inbox, false);
    let failure = job.run(&JobContext::new(1, 1, false)).unwrap_err();
    assert!(!failure.retryable, "a bad file is not fixed by retrying: {}", failure.error);
    assert!(failure.error.contains("1 file(s)"), "{}", failure.error);

    let today = Utc::now();
    let processed = inbox.join(format!("processed/{}", today.format("%Y/%m/%d")));
    let mut landed: Vec<String> = std::fs::read_dir(&processed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    landed.sort();
    assert_eq!(landed, ["alkosto.jsonl", "exito.jsonl"]);
    assert!(failure.steps.iter().all(|s| !s.counts.contains_key("archived")), "no archive set");
    assert!(inbox.join("failed/notes.xml").exists());
    let reason = std::fs::read_to_string(inbox.join("failed/notes.xml.error.txt")).unwrap();
    assert!(reason.contains("notes.xml"), "the reason names the file: {reason}");
    assert!(inbox.join("jumbo.jsonl").exists() && inbox.join("falabella.jsonl.part").exists());
    // Good records landed, the bad one is in a rejects file, nothing of the waiting files.
    let counts = catalog.counts().unwrap();
    assert_eq!((counts.offers, counts.ingest_files), (3, 2));
    let steps: Vec<(String, StepStatus)> =
        failure.steps.iter().map(|s| (s.name.clone(), s.status)).collect();
    assert!(steps.contains(&("ingest exito.jsonl".into(), StepStatus::Succeeded)), "{steps:?}");
    assert!(steps.contains(&("ingest notes.xml".into(), StepStatus::Failed)), "{steps:?}");

    // The next run finds only what became stable; a dry run moves and writes nothing.
    let jumbo = inbox.join("jumbo.jsonl");
    std::fs::File::options()
        .write(true)
        .open(&jumbo)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - old)
        .unwrap();
    // docs/OPERATIONS.md O12: byte-identical database and WAL files, and the same files in the drop
    // directory.
    let fingerprint = || {
        let mut files: Vec<(String, Vec<u8>)> = Vec::new();
        for name in ["p.sqlite", "p.sqlite-wal"] {
            files.push((name.into(), std::fs::read(dir.path().join(name)).unwrap_or_default()));
        }
        let mut stack = vec![inbox.clone()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    stack.push(p);
                } else {
                    files.push((p.display().to_string(), std::fs::read(&p).unwrap()));
                }
            }
        }
        files.sort();
        files
    };
    let before = fingerprint();
    let dry = job.run(&JobContext::new(2, 1, true)).unwrap();
    assert!(fingerprint() == before, "a dry run changes no byte of the database, WAL or inbox");
    assert!(jumbo.exists() && catalog.counts().unwrap().offers == 3, "dry run: {dry:?}");
    assert!(dry.iter().any(|s| s.planned.iter().any(|p| p.contains("jumbo.jsonl"))));
    job.run(&JobContext::new(3, 1, false)).unwrap();
    assert!(!jumbo.exists() && processed.join("jumbo.jsonl").exists());
    assert_eq!(catalog.counts().unwrap().offers, 4);

    // A file dropped again with a name already processed keeps both copies; with an archive
    // set, the raw file is archived and the ledger records its key before it moves.
    drop_file(&inbox, "alkosto.jsonl", &line("alkosto", "a", "14000"), old);
    let archive = Arc::new(
        preciso_ops::archive::Archive::open(dir.path().join("archive").to_str().unwrap()).unwrap(),
    );
    let job = DropDirJob {
        archive: Some(archive.clone()),
        ..dropdir_job(catalog.clone(), &inbox, false)
    };
    let steps = job.run(&JobContext::new(4, 1, false)).unwrap();
    assert!(steps.iter().any(|s| s.counts.get("archived") == Some(&1)), "{steps:?}");
    let newest = catalog.ingest_files(1, 0).unwrap().remove(0);
    let key = newest.archive_key.clone().expect("archived");
    assert_eq!(archive.size(&key).unwrap(), Some(newest.size));
    assert!(processed.join("alkosto.jsonl.1").exists());
    let alkosto = preciso_core::query::OfferFilter {
        store: Some(preciso_core::domain::StoreId::parse("alkosto").unwrap()),
        ..Default::default()
    };
    let page = catalog
        .list_offers(&alkosto, Default::default(), Default::default(), Default::default())
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].offer.price.minor, 1_400_000, "the newer file's price applies");
}

/// The drop-directory job dates by the scheduler's clock, not the machine's: the processed/
/// folder of the day and the observation time of records without `scraped_at`.
#[test]
fn the_drop_dir_job_dates_by_the_scheduler_clock() {
    let (dir, catalog) = sqlite();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    drop_file(&inbox, "exito.jsonl", &line("exito", "c1", "9900"), Duration::from_secs(120));
    let at = Utc.with_ymd_and_hms(2031, 2, 3, 12, 0, 0).unwrap();
    let clock = Arc::new(preciso_ops::FakeClock::new(at));
    let job = dropdir_job(catalog.clone(), &inbox, false);
    job.run(&JobContext::with_clock(1, 1, false, clock)).unwrap();
    assert!(inbox.join("processed/2031/02/03/exito.jsonl").exists());
    let page = catalog
        .list_offers(
            &Default::default(),
            Default::default(),
            Default::default(),
            Default::default(),
        )
        .unwrap();
    assert_eq!(page.items.len(), 1);
    assert_eq!(page.items[0].offer.last_seen, at.timestamp(), "observed at the clock's now");
}

/// docs/OPERATIONS.md O13: the move step failing after a committed ingest leaves the file in the
/// inbox and the run retryable; the retry skips the already-ingested content and only moves the
/// file, so the ledger holds one completed ingest and nothing half-applied.
#[test]
fn a_failed_move_after_ingest_is_retried_without_ingesting_twice() {
    let (dir, catalog) = sqlite();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    drop_file(&inbox, "exito.jsonl", &line("exito", "a", "10000"), Duration::from_secs(120));
    // A plain file where processed/ should be: creating the dated directory fails.
    std::fs::write(inbox.join("processed"), "in the way").unwrap();
    let job = dropdir_job(catalog.clone(), &inbox, false);
    let failure = job.run(&JobContext::new(1, 1, false)).unwrap_err();
    assert!(failure.retryable, "{}", failure.error);
    let step = failure.steps.iter().find(|s| s.name == "ingest exito.jsonl").unwrap();
    assert!(step.error.as_deref().unwrap_or("").contains("moving to processed/ failed"));
    assert!(inbox.join("exito.jsonl").exists());
    std::fs::remove_file(inbox.join("processed")).unwrap();
    let steps = job.run(&JobContext::new(2, 1, false)).unwrap();
    assert!(!inbox.join("exito.jsonl").exists());
    let ingest = steps.iter().find(|s| s.name == "ingest exito.jsonl").unwrap();
    assert_eq!(
        ingest.counts.get("inserted").copied().unwrap_or(0),
        0,
        "nothing ingested twice: {ingest:?}"
    );
    let ledger = catalog.ingest_files(10, 0).unwrap();
    let done = ledger.iter().filter(|f| f.status == preciso_core::domain::IngestStatus::Done);
    assert_eq!(done.count(), 1, "{ledger:?}");
    assert_eq!(catalog.counts().unwrap().offers, 1);
}

#[test]
fn a_store_error_keeps_the_file_in_the_inbox_and_asks_for_a_retry() {
    let (dir, catalog) = sqlite();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    drop_file(&inbox, "exito.jsonl", &line("exito", "a", "10000"), Duration::from_secs(120));
    // The database refuses writes (a trigger stands in for a full disk or a lost server).
    let db = rusqlite::Connection::open(dir.path().join("p.sqlite")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON offers BEGIN SELECT RAISE(ABORT, 'disk full'); END;",
    )
    .unwrap();
    let job = dropdir_job(catalog.clone(), &inbox, false);
    let failure = job.run(&JobContext::new(1, 1, false)).unwrap_err();
    assert!(failure.retryable, "{}", failure.error);
    assert!(inbox.join("exito.jsonl").exists(), "the file stays for the retry");
    db.execute_batch("DROP TRIGGER refuse").unwrap();
    job.run(&JobContext::new(2, 1, false)).unwrap();
    assert_eq!(catalog.counts().unwrap().offers, 1);
    assert!(!inbox.join("exito.jsonl").exists());
}

// ---- docs/OPERATIONS.md O15–O21: portable backups --------------------------------------------

use preciso_core::ports::{CatalogStore, Cell};
use preciso_ops::backup::{self, BackupError, Source};

const SCHEMA: &str = "test-schema";

fn source(backend: &str) -> Source<'_> {
    Source { app_version: "test", schema_version: SCHEMA, backend }
}

fn rows_of(c: &dyn Catalog) -> Vec<(String, Vec<Cell>)> {
    let mut rows = Vec::new();
    c.snapshot(&mut |t, row| {
        rows.push((t.to_string(), row));
        Ok(())
    })
    .unwrap();
    rows
}

/// `n` offers of `store`, skus `{tag}-0…`, in one ingest run.
fn ingest_fixture(c: &dyn Catalog, tag: &str, store: &str, n: usize) {
    let skus: Vec<String> = (0..n).map(|i| format!("{tag}-{i}")).collect();
    let titles: Vec<String> = (0..n).map(|i| format!("Producto {}", i % 7)).collect();
    let offers: Vec<_> = skus
        .iter()
        .zip(&titles)
        .enumerate()
        .map(|(i, (sku, title))| {
            preciso_core::testing::Fixture {
                store,
                sku,
                title,
                price: 1_000 + i as i64,
                ..Default::default()
            }
            .offer()
        })
        .collect();
    preciso_core::testing::apply(c, tag, &offers);
}

#[test]
fn backups_restore_across_backends_identically_and_refuse_tampering() {
    let (dir, a) = sqlite();
    ingest_fixture(a.as_ref(), "one", "exito", 40);
    ingest_fixture(a.as_ref(), "two", "jumbo", 25);
    let before = rows_of(a.as_ref());
    let backups = dir.path().join("backups");
    let (file, manifest) =
        backup::create(a.as_ref(), &backups, &source("sqlite"), utc("2026-03-01T03:00:00Z"))
            .unwrap();
    assert_eq!(backup::list(&backups).unwrap(), vec![file.clone()]);
    let offers = manifest.tables.iter().find(|t| t.name == "offers").unwrap();
    assert_eq!(offers.rows, 65);
    assert_eq!(backup::check_hashes(&file.path).unwrap(), manifest);
    // A temporary file a killed backup left a day ago is swept by the next backup.
    let stale = backups.join(".preciso-20260101T000000000Z.preciso-backup.zst.tmp");
    std::fs::write(&stale, "partial").unwrap();
    let two_days = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
    std::fs::File::options().write(true).open(&stale).unwrap().set_modified(two_days).unwrap();
    let (again, _) =
        backup::create(a.as_ref(), &backups, &source("sqlite"), utc("2026-03-01T03:00:00Z"))
            .unwrap();
    assert_eq!(again.path, file.path, "the same instant names the same backup");
    assert!(!stale.exists());
    // No temporary file is left beside it, and only its owner can read it (emails, key hashes).
    assert_eq!(std::fs::read_dir(&backups).unwrap().count(), 1);
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&file.path).unwrap().permissions().mode() & 0o777, 0o600);

    // SQLite → SQLite, and (with PostgreSQL) SQLite → PostgreSQL → SQLite: the same rows.
    let (_d2, b) = sqlite();
    ingest_fixture(b.as_ref(), "other", "alkosto", 3);
    backup::restore(&file.path, b.as_ref(), SCHEMA).unwrap();
    assert_eq!(rows_of(b.as_ref()), before);
    if let Some(db) = pg("backup") {
        let (file, before) = (file.clone(), before.clone());
        std::thread::spawn(move || {
            let p = preciso_store_postgres::PgCatalog::open(&db.url).unwrap();
            backup::restore(&file.path, &p, SCHEMA).unwrap();
            assert_eq!(rows_of(&p), before, "SQLite → PostgreSQL");
            let dir = tempfile::tempdir().unwrap();
            let (from_pg, _) =
                backup::create(&p, dir.path(), &source("postgres"), utc("2026-03-02T03:00:00Z"))
                    .unwrap();
            let back = SqliteCatalog::open(&dir.path().join("back.sqlite")).unwrap();
            backup::restore(&from_pg.path, &back, SCHEMA).unwrap();
            assert_eq!(rows_of(&back), before, "PostgreSQL → SQLite");
            drop(p);
            drop(db);
        })
        .join()
        .unwrap();
    }

    // A changed byte of content is caught by the hash; the restore stops and changes nothing.
    let raw = zstd::decode_all(std::fs::File::open(&file.path).unwrap()).unwrap();
    let text = String::from_utf8(raw).unwrap().replacen("\"one-1\"", "\"one-X\"", 1);
    let bad = backups.join("tampered.preciso-backup.zst");
    std::fs::write(&bad, zstd::encode_all(text.as_bytes(), 3).unwrap()).unwrap();
    assert!(matches!(backup::check_hashes(&bad), Err(BackupError::Corrupt { .. })));
    let (_d3, c) = sqlite();
    ingest_fixture(c.as_ref(), "keep", "exito", 5);
    let kept = rows_of(c.as_ref());
    assert!(matches!(backup::restore(&bad, c.as_ref(), SCHEMA), Err(BackupError::Corrupt { .. })));
    assert_eq!(rows_of(c.as_ref()), kept, "a failed restore leaves the target as it was");
    // A backup of another schema is refused the same way.
    assert!(matches!(
        backup::restore(&file.path, c.as_ref(), "9999_future"),
        Err(BackupError::SchemaMismatch { .. })
    ));
    assert_eq!(rows_of(c.as_ref()), kept);
    // A truncated file is refused.
    let cut = backups.join("cut.preciso-backup.zst");
    let bytes = std::fs::read(&file.path).unwrap();
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    assert!(backup::check_hashes(&cut).is_err());
}

/// docs/OPERATIONS.md O15: backups taken while an ingest commits batch after batch each restore to
/// a sound database holding whole batches only, with counts equal to their manifest; on SQLite and
/// (when available) PostgreSQL.
#[test]
fn backups_taken_during_an_ingest_hold_whole_batches() {
    let (dir, catalog) = sqlite();
    backups_during_ingest(dir.path(), catalog);
    if let Some(db) = pg("backup_ingest") {
        std::thread::spawn(move || {
            let pg: Arc<dyn Catalog> =
                Arc::new(preciso_store_postgres::PgCatalog::open(&db.url).unwrap());
            let dir = tempfile::tempdir().unwrap();
            backups_during_ingest(dir.path(), pg);
            drop(db);
        })
        .join()
        .unwrap();
    }
}

fn backups_during_ingest(dir: &std::path::Path, catalog: Arc<dyn Catalog>) {
    const BATCH: usize = 50;
    let writer = {
        let catalog = catalog.clone();
        std::thread::spawn(move || {
            for round in 0..40 {
                ingest_fixture(catalog.as_ref(), &format!("r{round}"), "exito", BATCH);
            }
        })
    };
    let backups = dir.join("backups");
    let mut taken = 0;
    while !writer.is_finished() || taken == 0 {
        let now = Utc::now() + CDuration::milliseconds(taken);
        let (file, manifest) =
            backup::create(catalog.as_ref(), &backups, &source("sqlite"), now).unwrap();
        let scratch_dir = tempfile::tempdir().unwrap();
        let scratch = SqliteCatalog::open(&scratch_dir.path().join("s.sqlite")).unwrap();
        backup::restore(&file.path, &scratch, SCHEMA).unwrap();
        assert_eq!(scratch.integrity_problems().unwrap(), Vec::<String>::new());
        let offers = manifest.tables.iter().find(|t| t.name == "offers").unwrap().rows;
        assert_eq!(scratch.counts().unwrap().offers, offers);
        assert_eq!(offers % BATCH as u64, 0, "whole batches only: {offers}");
        taken += 1;
    }
    writer.join().unwrap();
    assert!(taken >= 1);
}

#[test]
fn pruning_follows_the_keep_policy_and_spares_the_protected_backup() {
    let (dir, catalog) = sqlite();
    let backups = dir.path().join("backups");
    let mut made = Vec::new();
    for day in ["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"] {
        let (f, _) = backup::create(
            catalog.as_ref(),
            &backups,
            &source("sqlite"),
            utc(&format!("{day}T03:00:00Z")),
        )
        .unwrap();
        made.push(f);
    }
    let policy = backup::KeepPolicy { last: 1, ..Default::default() };
    let empty = backup::KeepPolicy::default();
    assert!(backup::prune(&backups, &empty, None).unwrap().is_empty(), "empty policy: nothing");
    let oldest = made[0].path.clone();
    let gone = backup::prune(&backups, &policy, Some(&oldest)).unwrap();
    let gone: Vec<_> = gone.iter().map(|b| b.path.clone()).collect();
    assert_eq!(gone, vec![made[2].path.clone(), made[1].path.clone()]);
    let left: Vec<_> = backup::list(&backups).unwrap().into_iter().map(|b| b.path).collect();
    assert_eq!(
        left,
        vec![made[3].path.clone(), oldest.clone()],
        "newest kept, protected one spared"
    );
    // A backup being verified or restored (by any process) is never pruned.
    let in_use = backup::InUse::mark(&oldest);
    assert!(backup::prune(&backups, &policy, None).unwrap().is_empty());
    // A marker left by a killed process expires after a day.
    let marker = std::path::PathBuf::from(format!("{}.inuse", oldest.display()));
    let old = std::time::SystemTime::now() - Duration::from_secs(2 * 86_400);
    std::fs::File::options().write(true).open(&marker).unwrap().set_modified(old).unwrap();
    assert_eq!(backup::prune(&backups, &policy, None).unwrap().len(), 1);
    drop(in_use);
    assert!(!marker.exists());
}

// ---- docs/OPERATIONS.md O29–O34: the raw-file archive, local and S3 --------------------------

use preciso_ops::archive::{self, Archive, Stored};

/// The archives every conformance case runs on: a local directory always; S3 (a real
/// S3-compatible server, `moto_server` in CI) when `PRECISO_TEST_S3_BUCKET` is set with the
/// `AWS_*` variables.
fn archives(dir: &std::path::Path) -> Vec<Archive> {
    let mut out = vec![
        Archive::in_memory().unwrap(),
        Archive::open(dir.join("archive").to_str().unwrap()).unwrap(),
    ];
    match std::env::var("PRECISO_TEST_S3_BUCKET") {
        Ok(bucket) => {
            let archive = Archive::open(&format!("s3://{bucket}")).unwrap();
            // A fresh bucket state per test: the keys used here are content-addressed.
            for (key, _) in archive.list(archive::PREFIX).unwrap() {
                archive.delete(&key).unwrap();
            }
            out.push(archive);
        }
        Err(_) => eprintln!("skipped: PRECISO_TEST_S3_BUCKET is not set (S3 archive cases)"),
    }
    out
}

/// Ingests `body` as `name` through the pipeline; returns the ledger row and the file's path.
fn ingest_raw(
    catalog: &Arc<dyn Catalog>,
    dir: &std::path::Path,
    name: &str,
    body: &str,
) -> (preciso_core::domain::IngestFile, std::path::PathBuf) {
    let path = dir.join(name);
    std::fs::write(&path, body).unwrap();
    let options = dropdir_job(catalog.clone(), dir, false).options;
    let source = preciso_ingest::IngestSource { path: path.clone(), name: name.into() };
    let report = preciso_ingest::ingest(catalog.as_ref(), &source, &options, &|_| {}).unwrap();
    let row = catalog
        .ingest_files(100, 0)
        .unwrap()
        .into_iter()
        .find(|f| Some(f.id) == report.ledger_id)
        .unwrap();
    (row, path)
}

#[test]
fn archive_backends_pass_one_conformance_suite() {
    let lines =
        |n: usize| (0..n).map(|i| line("exito", &format!("s{i}"), "1000")).collect::<String>();
    for (i, store) in archives(tempfile::tempdir().unwrap().path()).iter().enumerate() {
        let (dir, catalog) = sqlite();
        let label = &store.location;
        // docs/OPERATIONS.md O29: create-if-absent; a second store of the same key changes nothing.
        assert_eq!(
            store.put_if_absent("raw/t/a.txt", b"one".to_vec()).unwrap(),
            Stored::Created,
            "{label}"
        );
        assert_eq!(
            store.put_if_absent("raw/t/a.txt", b"two".to_vec()).unwrap(),
            Stored::AlreadyThere
        );
        assert_eq!(store.size("raw/t/a.txt").unwrap(), Some(3));
        assert_eq!(
            store.sha256("raw/t/a.txt").unwrap(),
            preciso_core::hash::to_hex(&<sha2::Sha256 as sha2::Digest>::digest(b"one"))
        );
        assert_eq!(store.size("raw/t/none").unwrap(), None);
        // docs/OPERATIONS.md O31: where the store keeps metadata, the SHA-256 travels with the
        // object.
        if !label.starts_with("file://") {
            assert_eq!(
                store.recorded_sha256("raw/t/a.txt").unwrap().as_deref(),
                Some(archive::sha256_hex(b"one").as_str()),
                "{label}"
            );
        }
        store.delete("raw/t/a.txt").unwrap();

        // docs/OPERATIONS.md O33: a completed ingest archived under its content key; the ledger
        // records it.
        let (first, first_path) =
            ingest_raw(&catalog, dir.path(), &format!("exito-{i}.jsonl"), &lines(3));
        let (key, stored) =
            archive::archive_file(store, catalog.as_ref(), &first, &first_path).unwrap();
        assert_eq!(stored, Stored::Created);
        assert!(
            key.starts_with("raw/mixed/") && key.ends_with(&format!("{}.jsonl", first.sha256)),
            "{key}"
        );
        let ledger = catalog.ingest_files(10, 0).unwrap();
        assert_eq!(
            ledger.iter().find(|f| f.id == first.id).unwrap().archive_key.as_deref(),
            Some(key.as_str())
        );
        // A file that is not what the ledger says is refused and left unarchived.
        std::fs::write(&first_path, "changed").unwrap();
        assert!(archive::archive_file(store, catalog.as_ref(), &first, &first_path).is_err());

        // docs/OPERATIONS.md O30: the three sets.
        let (second, second_path) =
            ingest_raw(&catalog, dir.path(), &format!("jumbo-{i}.jsonl"), &lines(5));
        store.put_if_absent("raw/mixed/2026/01/01/stray.jsonl", b"stray".to_vec()).unwrap();
        let r = archive::verify(store, catalog.as_ref(), false).unwrap();
        assert_eq!(r.missing_in_archive, vec![archive::key_for(&second)], "{label}");
        assert_eq!(r.orphan_in_archive, vec!["raw/mixed/2026/01/01/stray.jsonl".to_string()]);
        assert!(r.size_mismatch.is_empty() && r.hash_mismatch.is_empty());

        // docs/OPERATIONS.md O32: sync uploads only what is missing (found locally by hash); a
        // re-run uploads nothing; orphans go only when asked.
        let sources = vec![second_path.parent().unwrap().to_path_buf()];
        let dry = archive::sync(store, catalog.as_ref(), &sources, true, true).unwrap();
        assert_eq!(dry.uploaded, vec![archive::key_for(&second)]);
        assert_eq!(
            archive::verify(store, catalog.as_ref(), false).unwrap().missing_in_archive.len(),
            1,
            "dry run"
        );
        let done = archive::sync(store, catalog.as_ref(), &sources, false, false).unwrap();
        assert_eq!(done.uploaded, vec![archive::key_for(&second)]);
        assert!(done.orphans_deleted.is_empty());
        let again = archive::sync(store, catalog.as_ref(), &sources, false, false).unwrap();
        assert!(again.uploaded.is_empty(), "{again:?}");
        let cleaned = archive::sync(store, catalog.as_ref(), &sources, false, true).unwrap();
        assert_eq!(cleaned.orphans_deleted, vec!["raw/mixed/2026/01/01/stray.jsonl".to_string()]);

        // docs/OPERATIONS.md O29: two syncs at once store each object once; the other finds it
        // there.
        let (third, _) = ingest_raw(&catalog, dir.path(), &format!("alkosto-{i}.jsonl"), &lines(7));
        let reports: Vec<_> = std::thread::scope(|s| {
            let a =
                s.spawn(|| archive::sync(store, catalog.as_ref(), &sources, false, false).unwrap());
            let b =
                s.spawn(|| archive::sync(store, catalog.as_ref(), &sources, false, false).unwrap());
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        let created: usize = reports.iter().map(|r| r.uploaded.len()).sum();
        assert_eq!(created, 1, "{reports:?}");
        assert!(reports.iter().all(|r| r.failed.is_empty()));
        store.delete(&archive::key_for(&third)).unwrap();

        // docs/OPERATIONS.md O31: a size mismatch shows in a plain verify, a same-size corruption
        // only in --deep.
        let second_key = archive::key_for(&second);
        store.delete(&second_key).unwrap();
        let same_size = vec![b'x'; second.size as usize];
        store.put_if_absent(&second_key, same_size).unwrap();
        let first_key = archive::key_for(&first);
        store.delete(&first_key).unwrap();
        store.put_if_absent(&first_key, b"short".to_vec()).unwrap();
        let plain = archive::verify(store, catalog.as_ref(), false).unwrap();
        assert_eq!(plain.size_mismatch, vec![first_key.clone()]);
        assert!(plain.hash_mismatch.is_empty(), "a plain verify reads no content");
        let deep = archive::verify(store, catalog.as_ref(), true).unwrap();
        assert_eq!(deep.hash_mismatch, vec![second_key.clone()], "{label}");

        for key in [first_key, second_key] {
            store.delete(&key).unwrap();
        }
    }
}

/// docs/OPERATIONS.md O24, O30: the `archive-verify` job keeps its reconciliation in its
/// scheduler, where the status document (and the server's gauges) read it.
#[test]
fn archive_verify_job_keeps_its_reconciliation_in_the_scheduler() {
    use preciso_ops::jobs::archive_verify::ArchiveVerifyJob;
    let (dir, catalog) = sqlite();
    let archive = Arc::new(Archive::in_memory().unwrap());
    // One ingested file the archive lacks, one object the ledger does not know.
    ingest_raw(&catalog, dir.path(), "exito.jsonl", &line("exito", "s1", "1000"));
    archive.put_if_absent("raw/mixed/2026/01/01/stray.jsonl", b"stray".to_vec()).unwrap();
    let job = ArchiveVerifyJob { archive: Some(archive.clone()), catalog: catalog.clone() };
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let o = ops(vec![spec("archive-verify", None, "UTC", Arc::new(job))], catalog, clock);
    assert!(o.view().last_reconciliation().is_none(), "nothing before the first run");
    o.run_blocking("archive-verify", Trigger::Manual, false).unwrap();
    let r = o.view().last_reconciliation().expect("the run's reconciliation");
    assert_eq!((r.missing_in_archive.len(), r.orphan_in_archive.len()), (1, 1));
    let inputs = preciso_ops::status::StatusInputs {
        version: "test".into(),
        backend: "sqlite".into(),
        started_at: utc("2026-03-01T00:00:00Z"),
        data_dir: dir.path().to_path_buf(),
        backup_dir: dir.path().join("backups"),
        archive: Some("memory".into()),
    };
    let doc = preciso_ops::status::build(o.view(), &inputs).unwrap();
    let state = doc.archive.expect("the archive section");
    assert_eq!((state.missing_in_archive, state.orphan_in_archive), (1, 1));
}

/// issue #18: the `analyze` job runs the data-quality analysis over the catalog, counts the
/// checks by outcome in its step and sets each store's score in the scheduler's metrics.
#[test]
fn analyze_job_scores_the_stores_into_the_metrics() {
    use preciso_ops::jobs::analyze::AnalyzeJob;
    let (dir, catalog) = sqlite();
    let body: String = (0..12).map(|i| line("exito", &format!("s{i}"), "1000")).collect();
    ingest_raw(&catalog, dir.path(), "exito.jsonl", &body);
    let checks = preciso_core::quality::config::resolve(&Default::default()).unwrap();
    let job = AnalyzeJob { catalog: catalog.clone(), checks };
    let clock = Arc::new(FakeClock::new(utc("2026-03-01T00:00:00Z")));
    let o = ops(vec![spec("analyze", None, "UTC", Arc::new(job))], catalog.clone(), clock);
    let before = o.telemetry().render();
    assert!(!before.contains("preciso_quality_score{"), "no score before an analysis");
    let Triggered::Started { run_id } = o.run_blocking("analyze", Trigger::Manual, false).unwrap()
    else {
        panic!("the run started")
    };
    let run = catalog.run(run_id).unwrap().unwrap();
    assert_eq!(run.status, RunStatus::Succeeded, "{:?}", run.error);
    let step = &run.steps[0];
    assert_eq!(step.counts["offers"], 12);
    assert!(step.counts["checks_passed"] > 0);
    let text = o.telemetry().render();
    let score = text
        .lines()
        .find(|l| l.starts_with("preciso_quality_score{store=\"exito\"}"))
        .unwrap_or_else(|| panic!("{text}"));
    let value: f64 = score.rsplit(' ').next().unwrap().parse().unwrap();
    assert!((0.0..=100.0).contains(&value), "{score}");
    assert!(text.lines().any(|l| l.starts_with("preciso_quality_overall_score ")));
    // The run is also an analysis run: its report kept, its store score in the history.
    let runs = catalog.analyses(None, 10, 0).unwrap();
    assert_eq!(runs.len(), 1);
    assert_eq!((runs[0].trigger.as_str(), runs[0].status.as_str()), ("schedule", "succeeded"));
    assert_eq!(runs[0].as_of, Some(utc("2026-03-01T00:00:00Z").timestamp()));
    assert!(catalog.analysis_report(runs[0].id).unwrap().unwrap().contains("\"checks\""));
    let history = catalog.score_history(None, None, 10).unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!((history[0].store.as_str(), history[0].score), ("exito", value));
    // A dry run records nothing.
    o.run_blocking("analyze", Trigger::Manual, true).unwrap();
    assert_eq!(catalog.analyses(None, 10, 0).unwrap().len(), 1);
}

/// Issue #18, the analysis queue's limits: a request it cannot read is refused before
/// anything is queued; at most `MAX_QUEUED` runs wait; the sweep abandons a running run whose
/// heartbeat went silent and leaves a live one.
#[test]
fn the_analysis_queue_is_bounded_and_sweeps_silent_runs() {
    use preciso_core::quality::runs::{AnalysisRequest, AnalysisStatus};
    use preciso_ops::forensic::{AnalysisQueue, MAX_BATCH, MAX_QUEUED, SubmitError};
    let (_dir, catalog) = sqlite();
    let checks = preciso_core::quality::config::resolve(&Default::default()).unwrap();
    // Not started: nothing takes the queued runs.
    let queue = AnalysisQueue::new(catalog.clone(), checks, 2, None);
    let bad = AnalysisRequest { since: Some("someday".into()), ..Default::default() };
    let err = queue.submit(&[AnalysisRequest::default(), bad], "api").unwrap_err();
    assert!(matches!(err, SubmitError::Request(ref r) if r.field == "since"), "{err}");
    assert_eq!(catalog.queued_analyses().unwrap(), 0, "all or none");
    let batch = vec![AnalysisRequest::default(); MAX_BATCH];
    for _ in 0..MAX_QUEUED as usize / MAX_BATCH {
        assert_eq!(queue.submit(&batch, "api").unwrap().len(), MAX_BATCH);
    }
    let full = queue.submit(&[AnalysisRequest::default()], "api").unwrap_err();
    assert!(matches!(full, SubmitError::Full { queued } if queued == MAX_QUEUED), "{full}");
    // Two running runs of another host: one silent for 10 minutes, one beating now.
    let now = Utc::now().timestamp_millis();
    let whole = AnalysisRequest::default();
    let silent = catalog.begin_analysis(&whole, "api", "elsewhere:1:aa", now - 600_000).unwrap();
    let live = catalog.begin_analysis(&whole, "api", "elsewhere:2:bb", now).unwrap();
    // And one this process executes, as silent: it ends itself, the sweep leaves it while
    // it is live and abandons it once nothing executes it any more.
    let own = catalog.begin_analysis(&whole, "api", "elsewhere:3:cc", now - 600_000).unwrap();
    let executing = preciso_ops::forensic::LIVE.enter(own);
    assert_eq!(queue.sweep().unwrap(), 1);
    let status = |id| catalog.analysis(id).unwrap().unwrap().status;
    assert_eq!(
        (status(silent), status(live), status(own)),
        (AnalysisStatus::Abandoned, AnalysisStatus::Running, AnalysisStatus::Running)
    );
    drop(executing);
    assert_eq!(queue.sweep().unwrap(), 1);
    assert_eq!(status(own), AnalysisStatus::Abandoned);
    // Another process of this host that still exists (pid 1 stands for a CLI run): ten
    // silent minutes are spared, two hours are not.
    let owner = preciso_ops::service::owner_id();
    let host = this_host(&owner);
    let cli = format!("{host}:1:00ab");
    let waiting = catalog.begin_analysis(&whole, "cli", &cli, now - 600_000).unwrap();
    let hung = catalog.begin_analysis(&whole, "cli", &cli, now - 7_200_000).unwrap();
    assert_eq!(queue.sweep().unwrap(), 1);
    assert_eq!(
        (status(waiting), status(hung)),
        (AnalysisStatus::Running, AnalysisStatus::Abandoned)
    );
}
