//! Layered settings: built-in defaults < `preciso.toml` < `PRECISO_*` environment (`env`) <
//! flags. The config file is `--config PATH`, else `$PRECISO_CONFIG`, else `./preciso.toml`
//! when it exists. `Debug` never prints the database URL, which may hold a password.

pub mod env;

use anyhow::{Context, Result, bail};
use chrono_tz::Tz;
use preciso_core::domain::{Currency, Store, StoreAliases, StoreId};
use preciso_ingest::FieldMap;
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// Database file, rejects, spooled uploads. Relative paths are from the working directory.
    pub data_dir: PathBuf,
    /// `sqlite://PATH` (default: `sqlite://<data_dir>/preciso.sqlite`).
    pub database_url: Option<String>,
    /// `redis://HOST:PORT/DB`: share rate limits and the response cache between replicas.
    /// Unset: both stay in-process. (env: PRECISO_REDIS_URL)
    pub redis_url: Option<String>,
    pub ingest: IngestSettings,
    pub catalog: CatalogSettings,
    pub http: HttpSettings,
    pub auth: AuthSettings,
    pub scheduler: SchedulerSettings,
    pub backup: BackupSettings,
    pub archive: ArchiveSettings,
    pub log: LogSettings,
    pub retention: RetentionSettings,
    /// Per-job overrides of the defaults (docs/OPERATIONS.md, "Scheduler"), keyed by job name:
    /// `ingest`, `ingest-full`, `status`.
    pub jobs: BTreeMap<String, JobSettings>,
    /// Per-store settings, keyed by store slug.
    pub stores: BTreeMap<String, StoreSettings>,
    /// The forensic analysis (docs/QUALITY.md).
    pub quality: QualitySettings,
}

/// `[quality.checks."ID"]`: each check's `enabled`, `severity`, `threshold`, `mostly` and own
/// keys (file only: check ids hold dots, which an environment variable cannot spell).
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct QualitySettings {
    /// Analysis runs of the API a process runs at once (1–16); the rest wait `queued`.
    pub concurrency: usize,
    pub checks: BTreeMap<String, preciso_core::quality::config::CheckSettings>,
}

impl Default for QualitySettings {
    fn default() -> Self {
        QualitySettings { concurrency: 2, checks: BTreeMap::new() }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SchedulerSettings {
    /// Run the scheduler inside `preciso serve`. (env: PRECISO_SCHEDULER=on|off)
    pub enabled: bool,
    /// Time zone of jobs that set none (IANA name).
    pub timezone: String,
    /// Seconds between scheduler wake-ups.
    pub poll_secs: u64,
    /// Seconds between a running job's heartbeats; silent 3× this long means abandoned.
    pub heartbeat_secs: u64,
    /// The drop directory the ingest jobs read (default `<data_dir>/inbox`).
    pub drop_dir: Option<PathBuf>,
    /// A dropped file is picked once unmodified for this many seconds.
    pub stable_secs: u64,
    /// Days of run history kept.
    pub run_retention_days: u32,
}

/// The scheduler's own defaults (`preciso_ops::OpsConfig`), in the file's units: one home.
impl Default for SchedulerSettings {
    fn default() -> Self {
        let d = preciso_ops::OpsConfig::default();
        SchedulerSettings {
            enabled: true,
            timezone: "America/Bogota".into(),
            poll_secs: d.poll.as_secs(),
            heartbeat_secs: d.heartbeat.as_secs(),
            drop_dir: None,
            stable_secs: 10,
            run_retention_days: (d.run_retention.as_secs() / 86_400) as u32,
        }
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// Also write the server's JSON log lines to daily files `preciso.log.YYYY-MM-DD` in this
    /// directory (read them with `preciso logs --tail N`). (env: PRECISO_LOG_DIR)
    pub dir: Option<PathBuf>,
}

/// What `preciso clean` and the weekly `cleanup` job remove.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct RetentionSettings {
    /// Log files older than this many days.
    pub log_days: u32,
    /// Processed raw files older than this many days, only once archived and verified.
    pub raw_days: u32,
    /// Rejects files (they hold the refused records, personal data included) older than this.
    pub rejects_days: u32,
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings { log_days: 7, raw_days: 30, rejects_days: 30 }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ArchiveSettings {
    /// Archive every ingested raw file (drop-directory jobs). (env: PRECISO_ARCHIVE=on|off)
    pub enabled: bool,
    /// `s3://BUCKET` (endpoint, region and credentials from the `AWS_*` environment), or a
    /// directory (default `<data_dir>/archive`). (env: PRECISO_ARCHIVE_URL)
    pub url: Option<String>,
}

impl Default for ArchiveSettings {
    fn default() -> Self {
        ArchiveSettings { enabled: true, url: None }
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct BackupSettings {
    /// Where backups are written (default `<data_dir>/backups`).
    pub dir: Option<PathBuf>,
    /// Which backups `backup prune` and the backup job keep (restic semantics: the newest
    /// `last`, and the newest of each of the latest `daily` days, `weekly` ISO weeks and
    /// `monthly` months that have one). All zero keeps everything.
    pub keep: preciso_ops::backup::KeepPolicy,
}

/// One job's schedule and policies; unset fields keep the job's defaults.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct JobSettings {
    /// Standard 5-field cron; "" disables the schedule (manual runs still work).
    pub cron: Option<String>,
    /// Set to accept a 6-field cron whose first field is seconds.
    pub seconds: bool,
    pub timezone: Option<String>,
    /// `coalesce` (default) or `skip`.
    pub misfire: Option<preciso_ops::Misfire>,
    /// `forbid` (default: a fire during an active run is recorded as skipped), `replace` (the
    /// active run is stopped and the new one starts) or `allow` (runs side by side).
    pub overlap: Option<preciso_ops::Overlap>,
    pub grace_secs: Option<u64>,
    pub timeout_secs: Option<u64>,
    /// Attempts in all (1 = no retries).
    pub attempts: Option<u32>,
    pub retry_base_secs: Option<u64>,
    pub retry_cap_secs: Option<u64>,
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IngestSettings {
    /// Records per transaction.
    pub batch_size: usize,
    /// Currency for stores whose currency is known neither from config nor the data.
    pub default_currency: Option<String>,
    /// Time zone of `scraped_at` values without an offset, for stores without their own.
    pub default_timezone: String,
    /// Where rejects files go (default `<data_dir>/rejects`).
    pub rejects_dir: Option<PathBuf>,
    /// Every ingest is a deliberate backfill of old scrapes (as `ingest --backfill`): late
    /// observations are reported as info by `C.history_order`, not as out-of-order defects.
    pub backfill: bool,
}

/// How the catalog is read.
#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CatalogSettings {
    /// The currency listings use when a request names none (ISO 4217). Unset: the currency
    /// with the most offers in the listing's scope. Money of two currencies is never listed,
    /// ranked or summed together.
    pub currency: Option<String>,
}

impl CatalogSettings {
    pub fn currency(&self) -> Result<Option<Currency>> {
        self.currency
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| Currency::parse(c).context("catalog.currency"))
            .transpose()
    }
}

#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// Address `preciso serve` binds. (env: PRECISO_LISTEN)
    pub listen: String,
    /// Requests per minute per API key or client IP; 0 disables.
    pub rate_limit_per_minute: u32,
    /// Origins allowed by CORS (exact match, e.g. "https://app.example.com").
    pub cors_origins: Vec<String>,
    /// Response cache TTL in seconds; 0 disables the cache.
    pub cache_ttl_secs: u64,
    /// Bytes the in-process response cache holds at most (least recently used go first).
    pub cache_max_bytes: u64,
    pub json_body_limit_bytes: usize,
    pub upload_limit_bytes: usize,
    /// Set when a TLS-terminating proxy is in front (adds HSTS).
    pub behind_tls: bool,
    /// Proxies (CIDRs, e.g. "127.0.0.1/32", "10.0.0.0/8") whose `X-Forwarded-For` is read:
    /// the client is the rightmost address in it that is not one of them. Empty: the
    /// connecting address is the client, whatever the header says.
    pub trusted_proxies: Vec<String>,
    /// Replaced by `trusted_proxies`; kept only to name the replacement when it is set.
    #[serde(skip_serializing)]
    pub trust_forwarded_for: Option<bool>,
    /// Seconds in-flight requests get to finish after SIGTERM/SIGINT.
    pub shutdown_grace_secs: u64,
    /// Seconds a client has to send a request's headers once the server waits for them.
    pub header_read_timeout_secs: u64,
    /// Seconds a kept-alive connection may sit idle between requests.
    pub keepalive_timeout_secs: u64,
    /// Seconds a request may take, from its headers to its response (uploads excepted).
    pub request_timeout_secs: u64,
    /// Seconds an upload (`POST /api/archivos`) may take, reading and ingesting included.
    pub upload_timeout_secs: u64,
    /// Connections served at once; further clients wait in the listen backlog.
    pub max_connections: usize,
    /// Catalog calls run at once (uploads and the readiness probe excepted); further requests
    /// wait their turn in arrival order. 0: two per core of this host, at most one less than the
    /// connection pool (7 for SQLite, 15 for PostgreSQL); with PostgreSQL on a larger server of
    /// its own, about twice the server's cores shared among the replicas.
    pub db_concurrency: usize,
}

impl HttpSettings {
    /// The trusted proxies as networks (checked by `validate`).
    pub fn proxies(&self) -> Result<Vec<ipnet::IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|n| {
                n.parse::<ipnet::IpNet>()
                    .or_else(|_| n.parse::<std::net::IpAddr>().map(ipnet::IpNet::from))
                    .with_context(|| {
                        format!("http.trusted_proxies: {n:?} is not an address or CIDR network")
                    })
            })
            .collect()
    }

    fn validate(&self) -> Result<()> {
        if self.trust_forwarded_for.is_some() {
            bail!(
                "http.trust_forwarded_for was replaced by http.trusted_proxies: list the proxies \
                 (CIDRs) whose X-Forwarded-For is believed, e.g. trusted_proxies = [\"127.0.0.1/32\"]"
            );
        }
        self.proxies()?;
        for (name, secs) in [
            ("header_read_timeout_secs", self.header_read_timeout_secs),
            ("keepalive_timeout_secs", self.keepalive_timeout_secs),
            ("request_timeout_secs", self.request_timeout_secs),
            ("upload_timeout_secs", self.upload_timeout_secs),
        ] {
            if secs == 0 {
                bail!("http.{name} must be at least 1");
            }
        }
        if self.max_connections == 0 {
            bail!("http.max_connections must be at least 1");
        }
        Ok(())
    }
}

/// The server's own defaults (`preciso_http::HttpConfig`), in the file's units: one home.
impl Default for HttpSettings {
    fn default() -> Self {
        let d = preciso_http::HttpConfig::default();
        HttpSettings {
            listen: "127.0.0.1:8080".into(),
            rate_limit_per_minute: d.rate_limit_per_minute,
            cors_origins: d.cors_origins,
            cache_ttl_secs: d.cache_ttl.as_secs(),
            cache_max_bytes: d.cache_max_bytes,
            json_body_limit_bytes: d.json_body_limit,
            upload_limit_bytes: d.upload_limit,
            behind_tls: d.behind_tls,
            trusted_proxies: Vec::new(),
            trust_forwarded_for: None,
            shutdown_grace_secs: 20,
            header_read_timeout_secs: d.limits.header_read_timeout.as_secs(),
            keepalive_timeout_secs: d.limits.keepalive_timeout.as_secs(),
            request_timeout_secs: d.request_timeout.as_secs(),
            upload_timeout_secs: d.upload_timeout.as_secs(),
            max_connections: d.limits.max_connections,
            db_concurrency: 0,
        }
    }
}

#[derive(Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// Require a `read` key for GET endpoints. (env: PRECISO_REQUIRE_AUTH_FOR_READS)
    pub require_for_reads: bool,
    /// A bootstrap key with the admin scope. Only from the environment (PRECISO_ADMIN_KEY):
    /// never written to files or logs.
    #[serde(skip)]
    pub admin_key: Option<String>,
    /// What the web UI signs its session cookies with; give every replica the same one so a
    /// session works on any of them. Only from the environment (PRECISO_SESSION_SECRET), at
    /// least 32 characters. Unset: a random secret per process (sessions end on restart).
    #[serde(skip)]
    pub ui_session_key: Option<String>,
}

impl fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthSettings")
            .field("require_for_reads", &self.require_for_reads)
            .field("admin_key", &self.admin_key.as_ref().map(|_| "<redacted>"))
            .field("ui_session_key", &self.ui_session_key.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[derive(Debug, Clone, Default, serde::Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// The store's display name; records that write it (in any case or accents) are this
    /// store's.
    pub name: Option<String>,
    /// Other names records give this store ("Falabella Colombia", "falabella.com.co").
    pub aliases: Vec<String>,
    pub country: Option<String>,
    pub currency: Option<String>,
    pub timezone: Option<String>,
    pub base_url: Option<String>,
    /// Canonical field name → this store's own key or CSV header.
    pub mapping: BTreeMap<String, String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            data_dir: PathBuf::from("preciso-data"),
            database_url: None,
            redis_url: None,
            ingest: IngestSettings::default(),
            catalog: CatalogSettings::default(),
            http: HttpSettings::default(),
            auth: AuthSettings::default(),
            scheduler: SchedulerSettings::default(),
            backup: BackupSettings::default(),
            archive: ArchiveSettings::default(),
            log: LogSettings::default(),
            retention: RetentionSettings::default(),
            jobs: BTreeMap::new(),
            stores: BTreeMap::new(),
            quality: QualitySettings::default(),
        }
    }
}

impl Default for BackupSettings {
    fn default() -> Self {
        let keep = preciso_ops::backup::KeepPolicy { last: 3, daily: 7, weekly: 4, monthly: 6 };
        BackupSettings { dir: None, keep }
    }
}

impl Default for IngestSettings {
    fn default() -> Self {
        IngestSettings {
            batch_size: 5000,
            default_currency: None,
            default_timezone: "UTC".into(),
            rejects_dir: None,
            backfill: false,
        }
    }
}

impl fmt::Debug for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Settings")
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "<redacted>"))
            .field("redis_url", &self.redis_url.as_ref().map(|_| "<redacted>"))
            .field("ingest", &self.ingest)
            .field("catalog", &self.catalog)
            .field("http", &self.http)
            .field("auth", &self.auth)
            .field("scheduler", &self.scheduler)
            .field("backup", &self.backup)
            .field("archive", &self.archive)
            .field("log", &self.log)
            .field("retention", &self.retention)
            .field("jobs", &self.jobs)
            .field("stores", &self.stores)
            .field("quality", &self.quality)
            .finish()
    }
}

impl Settings {
    /// Defaults, then the config file, then the environment (`env`). Flags are applied by
    /// callers. Variables that name no setting are logged as warnings.
    pub fn load(config: Option<&Path>) -> Result<Settings> {
        let env_config = std::env::var_os("PRECISO_CONFIG").map(PathBuf::from);
        let path = config.map(Path::to_path_buf).or(env_config);
        let mut settings = match path {
            Some(p) => Self::from_file(&p)?,
            None if Path::new("preciso.toml").exists() => {
                Self::from_file(Path::new("preciso.toml"))?
            }
            None => Settings::default(),
        };
        for warning in settings.apply_env(std::env::vars())? {
            tracing::warn!("{warning}");
        }
        settings.validate()?;
        Ok(settings)
    }

    fn from_file(path: &Path) -> Result<Settings> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading config file {}", path.display()))?;
        let settings: Settings = toml::from_str(&text)
            .with_context(|| format!("parsing config file {}", path.display()))?;
        // A check setting the types accept but the check does not (an unknown id, a key of
        // another check, a value out of range) is named with its line.
        if let Err(e) = settings.quality_checks() {
            let line = line_of(&text, &e.id, e.key.as_deref());
            bail!("{}:{line}: {e}", path.display());
        }
        Ok(settings)
    }

    /// Every quality check with these settings over its defaults.
    pub fn quality_checks(
        &self,
    ) -> Result<
        Vec<preciso_core::quality::config::CheckConfig>,
        preciso_core::quality::config::ConfigError,
    > {
        preciso_core::quality::config::resolve(&self.quality.checks)
    }

    /// The environment over the settings read so far (`env`); returns warnings for variables
    /// that name no setting.
    pub fn apply_env(
        &mut self,
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Vec<String>> {
        let vars: Vec<(String, String)> = vars.into_iter().collect();
        if let Some((_, key)) = vars.iter().find(|(k, v)| k == "PRECISO_ADMIN_KEY" && !v.is_empty())
        {
            self.auth.admin_key = Some(key.clone());
        }
        if let Some((_, s)) =
            vars.iter().find(|(k, v)| k == "PRECISO_SESSION_SECRET" && !v.is_empty())
        {
            self.auth.ui_session_key = Some(s.clone());
        }
        env::apply(self, vars)
    }

    /// Checks every value that could otherwise fail later, naming the setting.
    pub fn validate(&self) -> Result<()> {
        if !(1..=100_000).contains(&self.ingest.batch_size) {
            bail!("ingest.batch_size must be between 1 and 100000, got {}", self.ingest.batch_size);
        }
        self.default_currency()?;
        self.catalog.currency()?;
        self.default_timezone()?;
        self.http.listen.parse::<std::net::SocketAddr>().with_context(|| {
            format!(
                "http.listen must be an address like 127.0.0.1:8080, got {:?}",
                self.http.listen
            )
        })?;
        self.http.validate()?;
        if let Some(k) = &self.auth.admin_key
            && k.len() < 16
        {
            bail!("PRECISO_ADMIN_KEY must be at least 16 characters");
        }
        if self.auth.ui_session_key.as_ref().is_some_and(|s| s.len() < 32) {
            bail!("PRECISO_SESSION_SECRET must be at least 32 characters");
        }
        parse_tz(&self.scheduler.timezone).context("scheduler.timezone")?;
        crate::ops::job_specs_check(self)?;
        self.quality_checks()?;
        if !(1..=16).contains(&self.quality.concurrency) {
            bail!("quality.concurrency must be 1 to 16, got {}", self.quality.concurrency);
        }
        for (slug, store) in &self.stores {
            StoreId::parse(slug).with_context(|| format!("stores.{slug}: invalid store slug"))?;
            if let Some(c) = &store.currency {
                Currency::parse(c).with_context(|| format!("stores.{slug}.currency"))?;
            }
            if let Some(tz) = &store.timezone {
                parse_tz(tz).with_context(|| format!("stores.{slug}.timezone"))?;
            }
            FieldMap::with_overrides(store.mapping.iter().map(|(k, v)| (k.as_str(), v.as_str())))
                .map_err(|e| anyhow::anyhow!("stores.{slug}.mapping: {e}"))?;
        }
        self.store_aliases()?;
        Ok(())
    }

    /// What configured stores are called: slug, name and aliases of each. Two stores
    /// claiming one name is a configuration error.
    pub fn store_aliases(&self) -> Result<StoreAliases> {
        let mut aliases = StoreAliases::default();
        for (store, _, cfg) in self.configured_stores() {
            let names = std::iter::once(store.id.as_str())
                .chain(cfg.name.as_deref())
                .chain(cfg.aliases.iter().map(String::as_str));
            for name in names {
                aliases.insert(name, &store.id).with_context(|| format!("stores.{}", store.id))?;
            }
        }
        Ok(aliases)
    }

    pub fn database_url(&self) -> String {
        self.database_url.clone().unwrap_or_else(|| {
            format!("sqlite://{}", self.data_dir.join("preciso.sqlite").display())
        })
    }

    pub fn archive_url(&self) -> String {
        self.archive
            .url
            .clone()
            .unwrap_or_else(|| self.data_dir.join("archive").display().to_string())
    }

    pub fn backup_dir(&self) -> PathBuf {
        self.backup.dir.clone().unwrap_or_else(|| self.data_dir.join("backups"))
    }

    pub fn drop_dir(&self) -> PathBuf {
        self.scheduler.drop_dir.clone().unwrap_or_else(|| self.data_dir.join("inbox"))
    }

    pub fn rejects_dir(&self) -> PathBuf {
        self.ingest.rejects_dir.clone().unwrap_or_else(|| self.data_dir.join("rejects"))
    }

    pub fn default_currency(&self) -> Result<Option<Currency>> {
        self.ingest
            .default_currency
            .as_deref()
            .filter(|c| !c.is_empty())
            .map(|c| Currency::parse(c).context("ingest.default_currency"))
            .transpose()
    }

    pub fn default_timezone(&self) -> Result<Tz> {
        parse_tz(&self.ingest.default_timezone).context("ingest.default_timezone")
    }

    /// Stores declared in the config, as domain values (validated by `validate`).
    pub fn configured_stores(&self) -> Vec<(Store, Option<Tz>, &StoreSettings)> {
        self.stores
            .iter()
            .filter_map(|(slug, s)| {
                let id = StoreId::parse(slug).ok()?;
                let store = Store {
                    name: s.name.clone().unwrap_or_else(|| id.to_string()),
                    id,
                    country: s.country.clone(),
                    currency: s.currency.as_deref().and_then(|c| Currency::parse(c).ok()),
                    base_url: s.base_url.clone(),
                };
                Some((store, s.timezone.as_deref().and_then(|t| parse_tz(t).ok()), s))
            })
            .collect()
    }
}

pub fn parse_tz(name: &str) -> Result<Tz> {
    name.parse::<Tz>().map_err(|_| anyhow::anyhow!("unknown IANA time zone {name:?}"))
}

/// The commented example printed by `preciso config example`.
pub const EXAMPLE: &str = include_str!("../preciso.example.toml");

/// The 1-based line of `[quality.checks."ID"]` in a config file, or of `key` below it.
fn line_of(text: &str, id: &str, key: Option<&str>) -> usize {
    let lines: Vec<&str> = text.lines().collect();
    let Some(header) = lines.iter().position(|l| l.contains(id)) else { return 1 };
    let Some(key) = key else { return header + 1 };
    lines[header..]
        .iter()
        .position(|l| l.trim_start().starts_with(key))
        .map_or(header + 1, |i| header + i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_config_parses_and_validates() {
        let s: Settings = toml::from_str(EXAMPLE).unwrap();
        s.validate().unwrap();
        assert_eq!(s.stores["exito"].currency.as_deref(), Some("COP"));
    }

    #[test]
    fn env_overrides_file_and_bad_values_name_the_setting() {
        let mut s: Settings = toml::from_str("data_dir = \"from-file\"").unwrap();
        let var = |k: &str, v: &str| vec![(k.to_string(), v.to_string())];
        s.apply_env(var("PRECISO_DATA_DIR", "from-env")).unwrap();
        assert_eq!(s.data_dir, PathBuf::from("from-env"));
        let err = s.apply_env(var("PRECISO_INGEST_BATCH_SIZE", "x"));
        assert!(err.unwrap_err().to_string().contains("PRECISO_INGEST_BATCH_SIZE"));
        s.apply_env(var("PRECISO_ADMIN_KEY", "an-admin-key-of-length")).unwrap();
        assert_eq!(s.auth.admin_key.as_deref(), Some("an-admin-key-of-length"));
        let bad: Settings = toml::from_str("[ingest]\ndefault_currency = \"XXX\"").unwrap();
        assert!(format!("{:#}", bad.validate().unwrap_err()).contains("ingest.default_currency"));
        assert!(toml::from_str::<Settings>("typo = 1").is_err());
    }

    #[test]
    fn debug_redacts_database_url() {
        let s = Settings {
            database_url: Some("postgres://u:secret@h/db".into()),
            ..Default::default()
        };
        assert!(!format!("{s:?}").contains("secret"));
    }
}
