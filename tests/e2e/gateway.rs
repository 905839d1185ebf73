//! The local gateway: nginx with `deploy/nginx/leadgen.conf.template`, as `make run` uses it.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::process::repo_root;

/// nginx running in its own prefix directory; stopped on drop.
pub struct Gateway {
    pub port: u16,
    prefix: PathBuf,
    config: PathBuf,
}

fn nginx() -> PathBuf {
    ["/usr/sbin/nginx", "/usr/bin/nginx", "/usr/local/sbin/nginx"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
        .expect("nginx is not installed (make test installs it)")
}

impl Gateway {
    pub fn start(dir: &Path, port: u16, auth_api: u16, lead_api: u16) -> Gateway {
        let prefix = dir.join("nginx");
        for sub in ["logs", "temp"] {
            std::fs::create_dir_all(prefix.join(sub)).expect("nginx dirs");
        }
        let template =
            std::fs::read_to_string(repo_root().join("deploy/nginx/leadgen.conf.template"))
                .expect("template");
        let rendered = template
            .replace("${GATEWAY_PORT}", &port.to_string())
            .replace("${AUTH_API_ADDR}", &format!("127.0.0.1:{auth_api}"))
            .replace("${LEAD_API_ADDR}", &format!("127.0.0.1:{lead_api}"));
        let config = prefix.join("nginx.conf");
        std::fs::write(&config, rendered).expect("write nginx.conf");
        let status = Command::new(nginx())
            .arg("-c")
            .arg(&config)
            .arg("-p")
            .arg(format!("{}/", prefix.display()))
            .status()
            .expect("run nginx");
        assert!(
            status.success(),
            "nginx failed to start; see {}/logs/error.log",
            prefix.display()
        );
        Gateway {
            port,
            prefix,
            config,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = Command::new(nginx())
            .arg("-c")
            .arg(&self.config)
            .arg("-p")
            .arg(format!("{}/", self.prefix.display()))
            .args(["-s", "quit"])
            .status();
    }
}
