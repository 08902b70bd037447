//! The bootstrap file (INTEROP §4.7): accounts, roles, groups, delegations, API-key hashes and SSH
//! public keys, imported with replace semantics in one transaction.
//!
//! Differences from the SCS monitor, on purpose: role names are OR-ed as bits, so a repeated name
//! cannot turn into another role (§6.3.8); delegations are written after every account exists, so
//! the account order in the file does not matter (§6.4.6); unknown keys, unknown roles, unknown
//! delegates, unparsable SSH keys and API-key hashes this monitor cannot verify (anything but
//! bcrypt and argon2) are errors naming the account, never silently dropped.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use anyhow::{Context, bail};
use serde::Deserialize;
use sqlx::Row;

use crate::auth::{Account, Roles};
use crate::db::Db;

/// The parsed bootstrap file.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bootstrap {
    /// Accounts; the file is the whole truth (accounts not listed are deleted).
    #[serde(default)]
    pub accounts: Vec<AccountEntry>,
    /// Legacy key, only consulted to decide whether the file is empty.
    #[serde(default)]
    pub subjects: Option<serde_yaml_ng::Value>,
}

/// One account of the bootstrap file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountEntry {
    /// Account name, also the subject it reports for.
    pub subject: String,
    /// Role names.
    #[serde(default)]
    pub roles: Vec<String>,
    /// Optional group (pseudo-subject `group-<name>` on the pages).
    #[serde(default)]
    pub group: Option<String>,
    /// Accounts allowed to post for this one (they also need `append_any`).
    #[serde(default)]
    pub delegates: Vec<String>,
    /// Password hashes for basic auth.
    #[serde(default)]
    pub api_keys: Vec<String>,
    /// SSH public keys that may sign this account's uploads.
    #[serde(default)]
    pub keys: Vec<KeyEntry>,
}

/// One SSH public key of an account.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyEntry {
    /// Base64 key blob.
    pub public_key: String,
    /// Key type, e.g. `ssh-ed25519`.
    pub public_key_type: String,
    /// Unique name within the account.
    pub public_key_name: String,
}

impl Bootstrap {
    /// Reads and validates a bootstrap file.
    pub fn load(path: &Path) -> anyhow::Result<Bootstrap> {
        let text = scs_kaas_core::input::read_bounded_text(
            path,
            scs_kaas_core::input::InputKind::Bootstrap,
        )?;
        Bootstrap::parse(&text)
            .with_context(|| format!("invalid bootstrap file {}", path.display()))
    }

    /// Parses and validates bootstrap YAML.
    pub fn parse(text: &str) -> anyhow::Result<Bootstrap> {
        let boot: Bootstrap = if text.trim().is_empty() {
            Bootstrap::default()
        } else {
            scs_kaas_core::yaml_depth::check(text, "bootstrap")?;
            serde_yaml_ng::from_str(text)?
        };
        boot.validate()?;
        Ok(boot)
    }

    /// Whether importing would change nothing (SCS rule: no accounts and no subjects).
    pub fn is_empty(&self) -> bool {
        let no_subjects = match &self.subjects {
            None | Some(serde_yaml_ng::Value::Null) => true,
            Some(serde_yaml_ng::Value::Mapping(m)) => m.is_empty(),
            Some(serde_yaml_ng::Value::Sequence(s)) => s.is_empty(),
            Some(_) => false,
        };
        self.accounts.is_empty() && no_subjects
    }

    fn validate(&self) -> anyhow::Result<()> {
        let names: BTreeSet<&str> = self.accounts.iter().map(|a| a.subject.as_str()).collect();
        let mut seen = BTreeSet::new();
        for account in &self.accounts {
            let subject = &account.subject;
            crate::upload::check_subject(subject)
                .with_context(|| format!("account {subject:?}"))?;
            if !seen.insert(subject.as_str()) {
                bail!("account {subject:?} is listed twice: merge the two entries");
            }
            account.roles()?;
            for delegate in &account.delegates {
                if !names.contains(delegate.as_str()) {
                    bail!(
                        "account {subject:?} names delegate {delegate:?}, which is not an account \
                         in this file: add the account or remove the delegate"
                    );
                }
            }
            let mut key_names = BTreeSet::new();
            for key in &account.keys {
                if !key_names.insert(key.public_key_name.as_str()) {
                    bail!(
                        "account {subject:?} has two keys named {:?}: key names must be unique",
                        key.public_key_name
                    );
                }
                key.parse()
                    .with_context(|| format!("account {subject:?}"))?;
            }
            for (n, hash) in account.api_keys.iter().enumerate() {
                crate::auth::check_hash(hash).map_err(|e| {
                    anyhow::anyhow!("account {subject:?}, api_keys entry {}: {e}", n + 1)
                })?;
            }
        }
        Ok(())
    }
}

impl AccountEntry {
    /// The role bits, OR-ed (a repeated name is harmless).
    pub fn roles(&self) -> anyhow::Result<Roles> {
        let mut roles = Roles::default();
        for name in &self.roles {
            let bit = Roles::from_name(name).with_context(|| {
                format!(
                    "account {:?} has unknown role {name:?}: use read_any, append_any, admin or approve",
                    self.subject
                )
            })?;
            roles = roles.with(bit);
        }
        Ok(roles)
    }
}

impl KeyEntry {
    /// The parsed public key.
    pub fn parse(&self) -> anyhow::Result<ssh_key::PublicKey> {
        let line = format!("{} {}", self.public_key_type, self.public_key);
        ssh_key::PublicKey::from_openssh(&line).with_context(|| {
            format!(
                "key {:?} is not a valid {} public key",
                self.public_key_name, self.public_key_type
            )
        })
    }
}

/// Writes the bootstrap into the database in one transaction (replace semantics).
pub async fn import(db: &Db, boot: &Bootstrap) -> anyhow::Result<()> {
    if boot.is_empty() {
        tracing::info!("bootstrap file is empty: accounts left unchanged");
        return Ok(());
    }
    let mut tx = db.pool.begin().await?;
    let mut ids: BTreeMap<&str, i64> = BTreeMap::new();
    for account in &boot.accounts {
        let roles = account.roles()?;
        let row = sqlx::query(
            "INSERT INTO account (subject, roles, grp) VALUES ($1, $2, $3) \
             ON CONFLICT (subject) DO UPDATE SET roles = excluded.roles, grp = excluded.grp \
             RETURNING accountid",
        )
        .bind(account.subject.clone())
        .bind(i64::from(roles.bits()))
        .bind(account.group.clone())
        .fetch_one(&mut *tx)
        .await
        .with_context(|| format!("cannot store account {:?}", account.subject))?;
        ids.insert(&account.subject, row.try_get(0)?);
    }
    for account in &boot.accounts {
        let id = ids[account.subject.as_str()];
        for table in ["delegation", "apikey", "publickey"] {
            let sql = format!("DELETE FROM {table} WHERE accountid = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for delegate in &account.delegates {
            sqlx::query("INSERT INTO delegation (delegateid, accountid) VALUES ($1, $2)")
                .bind(ids[delegate.as_str()])
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        for hash in account.api_keys.iter().collect::<BTreeSet<_>>() {
            sqlx::query("INSERT INTO apikey (accountid, apikeyhash) VALUES ($1, $2)")
                .bind(id)
                .bind(hash.clone())
                .execute(&mut *tx)
                .await?;
        }
        for key in &account.keys {
            sqlx::query(
                "INSERT INTO publickey (accountid, keyname, keytype, keyblob) VALUES ($1, $2, $3, $4)",
            )
            .bind(id)
            .bind(key.public_key_name.clone())
            .bind(key.public_key_type.clone())
            .bind(key.public_key.clone())
            .execute(&mut *tx)
            .await?;
        }
    }
    let existing = sqlx::query("SELECT accountid, subject FROM account")
        .fetch_all(&mut *tx)
        .await?;
    for row in existing {
        let subject: String = row.try_get(1)?;
        if !ids.contains_key(subject.as_str()) {
            let id: i64 = row.try_get(0)?;
            // Explicit deletes: cascades need `foreign_keys = ON`, which we set, but stay safe.
            for sql in [
                "DELETE FROM delegation WHERE accountid = $1 OR delegateid = $1",
                "DELETE FROM apikey WHERE accountid = $1",
                "DELETE FROM publickey WHERE accountid = $1",
                "DELETE FROM account WHERE accountid = $1",
            ] {
                sqlx::query(sql).bind(id).execute(&mut *tx).await?;
            }
        }
    }
    tx.commit()
        .await
        .context("cannot commit the bootstrap import")?;
    Ok(())
}

/// Reads every account with its keys and delegations (the in-memory auth snapshot).
pub async fn load_accounts(db: &Db) -> anyhow::Result<Vec<Account>> {
    let mut accounts: BTreeMap<i64, Account> = BTreeMap::new();
    for row in sqlx::query("SELECT accountid, subject, roles, grp FROM account")
        .fetch_all(&db.pool)
        .await?
    {
        let roles: i64 = row.try_get(2)?;
        accounts.insert(
            row.try_get(0)?,
            Account {
                subject: row.try_get(1)?,
                roles: Roles::from_bits(u32::try_from(roles).unwrap_or(0)),
                group: row.try_get(3)?,
                api_keys: Vec::new(),
                keys: Vec::new(),
                may_post_for: BTreeSet::new(),
            },
        );
    }
    for row in sqlx::query("SELECT accountid, apikeyhash FROM apikey")
        .fetch_all(&db.pool)
        .await?
    {
        if let Some(a) = accounts.get_mut(&row.try_get::<i64, _>(0)?) {
            a.api_keys.push(row.try_get(1)?);
        }
    }
    for row in sqlx::query("SELECT accountid, keyname, keytype, keyblob FROM publickey")
        .fetch_all(&db.pool)
        .await?
    {
        let entry = KeyEntry {
            public_key_name: row.try_get(1)?,
            public_key_type: row.try_get(2)?,
            public_key: row.try_get(3)?,
        };
        if let Some(a) = accounts.get_mut(&row.try_get::<i64, _>(0)?) {
            a.keys.push(entry.parse()?);
        }
    }
    let subjects: BTreeMap<i64, String> = accounts
        .iter()
        .map(|(id, a)| (*id, a.subject.clone()))
        .collect();
    for row in sqlx::query("SELECT delegateid, accountid FROM delegation")
        .fetch_all(&db.pool)
        .await?
    {
        let for_subject = subjects.get(&row.try_get::<i64, _>(1)?).cloned();
        if let (Some(delegate), Some(for_subject)) =
            (accounts.get_mut(&row.try_get::<i64, _>(0)?), for_subject)
        {
            delegate.may_post_for.insert(for_subject);
        }
    }
    Ok(accounts.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nesting_40k_deep_is_refused_before_parsing() {
        let deep = format!("accounts: {}{}\n", "[".repeat(40_000), "]".repeat(40_000));
        let err = Bootstrap::parse(&deep).unwrap_err();
        assert!(
            err.to_string().contains("nested deeper than 256"),
            "{err:#}"
        );
    }

    #[test]
    fn repeated_role_names_do_not_sum_into_other_roles() {
        let boot = Bootstrap::parse("accounts:\n  - subject: a\n    roles: [read_any, read_any]\n")
            .unwrap();
        let roles = boot.accounts[0].roles().unwrap();
        assert!(roles.contains(Roles::READ_ANY));
        assert!(!roles.contains(Roles::APPEND_ANY));
    }

    #[test]
    fn bad_input_is_named() {
        let err = Bootstrap::parse("accounts:\n  - subject: a\n    roles: [root]\n").unwrap_err();
        assert!(format!("{err:#}").contains("unknown role \"root\""));
        let err =
            Bootstrap::parse("accounts:\n  - subject: a\n    delegates: [ghost]\n").unwrap_err();
        assert!(format!("{err:#}").contains("ghost"));
        let err = Bootstrap::parse("accounts:\n  - subject: a\n    colour: red\n").unwrap_err();
        assert!(format!("{err:#}").contains("colour"));
        let err = Bootstrap::parse(
            "accounts:\n  - subject: a\n    keys:\n      - {public_key: AAAA, public_key_type: ssh-ed25519, public_key_name: k}\n",
        )
        .unwrap_err();
        assert!(format!("{err:#}").contains("not a valid ssh-ed25519"));
        let err = Bootstrap::parse("accounts:\n  - subject: a\n  - subject: a\n").unwrap_err();
        assert!(format!("{err:#}").contains("listed twice"));
        let err = Bootstrap::parse("accounts:\n  - subject: a\n    api_keys: [\"$1$md5$x\"]\n")
            .unwrap_err();
        let text = format!("{err:#}");
        assert!(
            text.contains("\"a\", api_keys entry 1") && text.contains("bcrypt"),
            "{text}"
        );
    }

    #[test]
    fn argon2_and_bcrypt_hashes_load() {
        use argon2::PasswordHasher as _;
        let argon = argon2::Argon2::new(
            argon2::Algorithm::Argon2id,
            argon2::Version::V0x13,
            argon2::Params::new(256, 1, 1, None).unwrap(),
        )
        .hash_password_with_salt(b"pw", b"0123456789abcdef")
        .unwrap()
        .to_string();
        let bcrypt = bcrypt::hash("pw", 4).unwrap();
        let boot = Bootstrap::parse(&format!(
            "accounts:\n  - subject: a\n    api_keys: [\"{argon}\", \"{bcrypt}\"]\n"
        ))
        .unwrap();
        assert_eq!(boot.accounts[0].api_keys.len(), 2);
    }

    #[test]
    fn empty_means_no_accounts_and_no_subjects() {
        assert!(Bootstrap::parse("").unwrap().is_empty());
        assert!(
            Bootstrap::parse("accounts: []\nsubjects: {}\n")
                .unwrap()
                .is_empty()
        );
        assert!(!Bootstrap::parse("subjects: {x: 1}\n").unwrap().is_empty());
    }
}
