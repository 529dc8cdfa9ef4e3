//! Users and groups from `/etc/passwd` and `/etc/group`, read directly: a static
//! binary has no NSS modules, and a `FROM scratch` image may have only these two
//! files (or neither, when every user is given as a number).

use std::path::Path;

/// `user` (`name` or `name:group`) and the `group` key as written, without
/// looking them up: the user's part and the group's, given once at most.
pub fn split<'a>(user: &'a str, group: Option<&'a str>) -> Result<(&'a str, Option<&'a str>), String> {
    match user.split_once(':') {
        Some(_) if group.is_some() => {
            Err("the group is given twice (in \"user: name:group\" and in \"group\")".into())
        }
        Some((user, group)) => Ok((user, Some(group))),
        None => Ok((user, group)),
    }
}

/// Who a service runs as, resolved once at load time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credentials {
    pub uid: u32,
    pub gid: u32,
    /// Supplementary groups (set before the uid changes).
    pub groups: Vec<u32>,
    /// From the passwd entry, for HOME / USER / LOGNAME.
    pub name: Option<String>,
    pub home: Option<String>,
}

struct PasswdEntry {
    name: String,
    uid: u32,
    gid: u32,
    home: String,
}

fn passwd(root: &Path) -> Vec<PasswdEntry> {
    let text = std::fs::read_to_string(root.join("etc/passwd")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            Some(PasswdEntry {
                name: (*fields.first()?).to_string(),
                uid: fields.get(2)?.parse().ok()?,
                gid: fields.get(3)?.parse().ok()?,
                home: fields.get(5).map_or_else(String::new, |h| (*h).to_string()),
            })
        })
        .collect()
}

/// (name, gid, members) for each line of /etc/group.
fn groups(root: &Path) -> Vec<(String, u32, Vec<String>)> {
    let text = std::fs::read_to_string(root.join("etc/group")).unwrap_or_default();
    text.lines()
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            let members =
                fields.get(3).map(|m| m.split(',').filter(|s| !s.is_empty()).map(String::from).collect());
            Some(((*fields.first()?).to_string(), fields.get(2)?.parse().ok()?, members.unwrap_or_default()))
        })
        .collect()
}

/// Resolves `user` (`name`, `uid`, `uid:gid` or `name:group`) and an optional
/// separate `group` against the files under `root` (normally `/`).
pub fn resolve(user: &str, group: Option<&str>, root: &Path) -> Result<Credentials, String> {
    let (user_part, group_part) = split(user, group)?;
    let entries = passwd(root);
    let group_list = groups(root);
    let entry = match user_part.parse::<u32>() {
        Ok(uid) => entries.iter().find(|e| e.uid == uid),
        Err(_) => Some(entries.iter().find(|e| e.name == user_part).ok_or_else(|| {
            format!("no user \"{user_part}\" in /etc/passwd (give a numeric uid to run without one)")
        })?),
    };
    let uid = match user_part.parse::<u32>() {
        Ok(uid) => uid,
        Err(_) => entry.map_or(0, |e| e.uid),
    };
    let gid = match group_part.or(group) {
        Some(g) => match g.parse::<u32>() {
            Ok(gid) => gid,
            Err(_) => group_list
                .iter()
                .find(|(name, _, _)| name == g)
                .map(|(_, gid, _)| *gid)
                .ok_or_else(|| format!("no group \"{g}\" in /etc/group"))?,
        },
        // A bare uid with no passwd entry runs with gid = uid, like docker --user.
        None => entry.map_or(uid, |e| e.gid),
    };
    let mut supplementary = vec![gid];
    if let Some(e) = entry {
        for (_, g, members) in &group_list {
            if members.contains(&e.name) && !supplementary.contains(g) {
                supplementary.push(*g);
            }
        }
    }
    Ok(Credentials {
        uid,
        gid,
        groups: supplementary,
        name: entry.map(|e| e.name.clone()),
        home: entry.map(|e| e.home.clone()).filter(|h| !h.is_empty()),
    })
}

#[cfg(test)]
mod tests;
