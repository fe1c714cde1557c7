//! Records the git commit the server was built from, for `preciso_build_info{commit}`:
//! `PRECISO_COMMIT` from the environment (Docker builds without `.git`), else `git rev-parse`,
//! else "unknown".

fn main() {
    let commit = std::env::var("PRECISO_COMMIT").ok().filter(|c| !c.is_empty()).or_else(|| {
        let out = std::process::Command::new("git")
            .args(["rev-parse", "--short=12", "HEAD"])
            .output()
            .ok()
            .filter(|o| o.status.success())?;
        Some(String::from_utf8_lossy(&out.stdout).trim().to_string())
    });
    println!("cargo:rustc-env=PRECISO_COMMIT={}", commit.unwrap_or_else(|| "unknown".into()));
    println!("cargo:rerun-if-env-changed=PRECISO_COMMIT");
    for git in ["../../.git/HEAD", "../../.git/refs/heads"] {
        if std::path::Path::new(git).exists() {
            println!("cargo:rerun-if-changed={git}");
        }
    }
}
