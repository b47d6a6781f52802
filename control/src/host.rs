//! Who this instance is: host or pod name, namespace and IP, from the
//! environment (POD_NAME, NAMESPACE, POD_IP) or detected.

use std::net::{IpAddr, Ipv4Addr};

const SA_NAMESPACE: &str = "/var/run/secrets/kubernetes.io/serviceaccount/namespace";

/// The identity reported in `Goto-Host` and to the registry.
#[derive(Debug, Clone)]
pub struct HostInfo {
    pub name: String,
    pub namespace: String,
    pub ip: String,
}

impl HostInfo {
    pub fn detect() -> HostInfo {
        let name = env_nonempty("POD_NAME").unwrap_or_else(hostname);
        let namespace = env_nonempty("NAMESPACE")
            .or_else(|| {
                std::fs::read_to_string(SA_NAMESPACE)
                    .ok()
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
            })
            .unwrap_or_else(|| "local".to_string());
        let ip = env_nonempty("POD_IP").unwrap_or_else(|| primary_ip().to_string());
        HostInfo {
            name,
            namespace,
            ip,
        }
    }

    /// `Goto-Host` value for a listener port: `name.namespace@ip:port`.
    pub fn goto_host(&self, port: u16) -> String {
        format!("{}.{}@{}:{}", self.name, self.namespace, self.ip, port)
    }
}

fn env_nonempty(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.trim().is_empty())
}

fn hostname() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: buf is valid for buf.len() bytes; gethostname NUL-terminates on success.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "localhost".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    String::from_utf8_lossy(&buf[..end]).into_owned()
}

/// The first non-loopback IPv4 address of an interface that is up, else 127.0.0.1.
fn primary_ip() -> IpAddr {
    let mut found = None;
    let mut ifap: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills a linked list we walk read-only and free once.
    unsafe {
        if libc::getifaddrs(&mut ifap) == 0 {
            let mut cur = ifap;
            while !cur.is_null() {
                let ifa = &*cur;
                let up = ifa.ifa_flags & (libc::IFF_UP as u32) != 0;
                let lo = ifa.ifa_flags & (libc::IFF_LOOPBACK as u32) != 0;
                if up
                    && !lo
                    && !ifa.ifa_addr.is_null()
                    && i32::from((*ifa.ifa_addr).sa_family) == libc::AF_INET
                {
                    let sin = &*(ifa.ifa_addr as *const libc::sockaddr_in);
                    found = Some(IpAddr::V4(Ipv4Addr::from(u32::from_be(
                        sin.sin_addr.s_addr,
                    ))));
                    break;
                }
                cur = ifa.ifa_next;
            }
            libc::freeifaddrs(ifap);
        }
    }
    found.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST))
}
