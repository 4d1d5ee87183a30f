//! Accounts (users and orgs) and org membership.

use sqlx::Row;
use weir_core::Name;

use crate::{Db, Result, StoreError, now};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AccountKind {
    User,
    Org,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub name: Name,
    pub kind: AccountKind,
    pub email: Option<String>,
    pub fullname: Option<String>,
    pub is_admin: bool,
}

fn account_from_row(r: &sqlx::any::AnyRow) -> Result<Account> {
    let name: String = r.try_get("name")?;
    let kind: String = r.try_get("kind")?;
    Ok(Account {
        name: Name::parse(&name).map_err(|e| StoreError::Corrupt(e.to_string()))?,
        kind: if kind == "org" {
            AccountKind::Org
        } else {
            AccountKind::User
        },
        email: r.try_get("email")?,
        fullname: r.try_get("fullname")?,
        is_admin: r.try_get::<i64, _>("is_admin")? != 0,
    })
}

impl Db {
    pub async fn create_user(
        &self,
        name: &Name,
        email: Option<&str>,
        is_admin: bool,
    ) -> Result<()> {
        self.create_account(name, "user", email, is_admin).await
    }

    pub async fn create_org(&self, name: &Name) -> Result<()> {
        self.create_account(name, "org", None, false).await
    }

    async fn create_account(
        &self,
        name: &Name,
        kind: &str,
        email: Option<&str>,
        is_admin: bool,
    ) -> Result<()> {
        if name.is_reserved_namespace() {
            return Err(StoreError::Reserved(name.to_string()));
        }
        let w = self.writing();
        let res = sqlx::query(
            "INSERT INTO accounts (name, kind, email, fullname, is_admin, created_at)
             VALUES ($1, $2, $3, NULL, $4, $5) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(kind)
        .bind(email)
        .bind(i64::from(is_admin))
        .bind(now())
        .execute(&self.pool)
        .await?;
        drop(w);
        if res.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("account {name}")));
        }
        Ok(())
    }

    pub async fn account(&self, name: &str) -> Result<Option<Account>> {
        let row = sqlx::query(
            "SELECT name, kind, email, fullname, is_admin FROM accounts WHERE name = $1",
        )
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(account_from_row).transpose()
    }

    /// Accounts by name, at most `limit` (operators' page).
    pub async fn accounts(&self, limit: i64) -> Result<Vec<Account>> {
        let rows = sqlx::query(
            "SELECT name, kind, email, fullname, is_admin FROM accounts ORDER BY name LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(account_from_row).collect()
    }

    pub async fn count_users(&self) -> Result<i64> {
        let r = sqlx::query("SELECT COUNT(*) AS n FROM accounts WHERE kind = 'user'")
            .fetch_one(&self.pool)
            .await?;
        Ok(r.try_get("n")?)
    }

    /// Creates an org with its members (each an existing user, with a role) and its event, in
    /// one transaction: a member who does not exist leaves no org behind.
    pub async fn create_org_logged(
        &self,
        name: &Name,
        members: &[(Name, &str)],
        event: &weir_core::Event,
    ) -> Result<()> {
        if name.is_reserved_namespace() {
            return Err(StoreError::Reserved(name.to_string()));
        }
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO accounts (name, kind, email, fullname, is_admin, created_at)
             VALUES ($1, 'org', NULL, NULL, 0, $2) ON CONFLICT (name) DO NOTHING",
        )
        .bind(name.as_str())
        .bind(now())
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            return Err(StoreError::Exists(format!("account {name}")));
        }
        for (user, role) in members {
            let kind: Option<String> = sqlx::query("SELECT kind FROM accounts WHERE name = $1")
                .bind(user.as_str())
                .fetch_optional(&mut *tx)
                .await?
                .map(|r| r.try_get("kind"))
                .transpose()?;
            if kind.as_deref() != Some("user") {
                return Err(StoreError::NotFound(format!("user {user}")));
            }
            sqlx::query(
                "INSERT INTO org_members (org, member, role) VALUES ($1, $2, $3)
                 ON CONFLICT (org, member) DO UPDATE SET role = excluded.role",
            )
            .bind(name.as_str())
            .bind(user.as_str())
            .bind(*role)
            .execute(&mut *tx)
            .await?;
        }
        crate::events::record_event_in(&mut tx, event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Adds `user` to `org`. Both must exist, with the right kinds.
    pub async fn add_member(&self, org: &Name, user: &Name, role: &str) -> Result<()> {
        match self.account(org.as_str()).await? {
            Some(a) if a.kind == AccountKind::Org => {}
            Some(_) => return Err(StoreError::Exists(format!("{org} is a user, not an org"))),
            None => return Err(StoreError::NotFound(format!("org {org}"))),
        }
        match self.account(user.as_str()).await? {
            Some(a) if a.kind == AccountKind::User => {}
            _ => return Err(StoreError::NotFound(format!("user {user}"))),
        }
        let w = self.writing();
        sqlx::query(
            "INSERT INTO org_members (org, member, role) VALUES ($1, $2, $3)
             ON CONFLICT (org, member) DO UPDATE SET role = excluded.role",
        )
        .bind(org.as_str())
        .bind(user.as_str())
        .bind(role)
        .execute(&self.pool)
        .await?;
        drop(w);
        Ok(())
    }

    /// Who answers for a namespace: the user itself, or an org's owners.
    pub async fn owners_of(&self, namespace: &str) -> Result<Vec<String>> {
        match self.account(namespace).await? {
            Some(a) if a.kind == AccountKind::User => Ok(vec![namespace.to_string()]),
            Some(_) => {
                let rows = sqlx::query(
                    "SELECT member FROM org_members WHERE org = $1 AND role = 'owner' ORDER BY member",
                )
                .bind(namespace)
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| Ok(r.try_get("member")?)).collect()
            }
            None => Ok(vec![]),
        }
    }

    /// Removes `user` from `org`. Returns whether they were a member.
    pub async fn remove_member(&self, org: &Name, user: &Name) -> Result<bool> {
        let w = self.writing();
        let n = sqlx::query("DELETE FROM org_members WHERE org = $1 AND member = $2")
            .bind(org.as_str())
            .bind(user.as_str())
            .execute(&self.pool)
            .await?
            .rows_affected();
        drop(w);
        Ok(n > 0)
    }

    /// Orgs `user` belongs to, with the role: `(org, role)`.
    pub async fn orgs_of(&self, user: &str) -> Result<Vec<(Name, String)>> {
        self.memoized(
            &self.memo.orgs,
            user.to_string(),
            self.orgs_of_uncached(user),
        )
        .await
    }

    async fn orgs_of_uncached(&self, user: &str) -> Result<Vec<(Name, String)>> {
        let rows = sqlx::query("SELECT org, role FROM org_members WHERE member = $1 ORDER BY org")
            .bind(user)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|r| {
                let org: String = r.try_get("org")?;
                Ok((
                    Name::parse(&org).map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    r.try_get("role")?,
                ))
            })
            .collect()
    }
}
