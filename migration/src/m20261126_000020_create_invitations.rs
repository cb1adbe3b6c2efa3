use crate::columns::*;
use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    DeveloperId,
    Email,
    TokenHash,
    Status,
    ExpiresAt,
    InvitedBy,
    MemberId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AccountTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    ExpiresAt,
    UsedAt,
    CreatedAt,
}

#[derive(DeriveIden)]
enum LicenseAssignments {
    Table,
    Id,
    LicenseId,
    UserId,
    InvitationId,
    Status,
    AssignedAt,
    ReleasedAt,
    AssignedBy,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Licenses {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

const ASSIGNMENT_STATUSES: [&str; 4] = ["active", "pending", "unassigned", "revoked"];
const PREVIOUS_STATUSES: [&str; 3] = ["active", "unassigned", "revoked"];

/// A held seat names its member; a pending one waits on an invitation.
const ASSIGNMENT_HOLDER: &str = "(status <> 'active' OR user_id IS NOT NULL) AND (user_id IS NOT NULL OR invitation_id IS NOT NULL)";

/// Team invitations and single-use account tokens (email verification, password reset), all
/// stored as digests. A seat may now wait on an invitation: `license_assignments.user_id`
/// becomes optional and `invitation_id` names the invitation a pending seat waits on, so a
/// seat offered to an email never creates (or reveals) an account for it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(id_pk(Invitations::Id))
                    .col(uuid_ref(Invitations::DeveloperId))
                    .col(text(Invitations::Email))
                    .col(text(Invitations::TokenHash).unique_key())
                    .col(text(Invitations::Status))
                    .col(timestamp(Invitations::ExpiresAt))
                    .col(uuid_ref_null(Invitations::InvitedBy))
                    .col(uuid_ref_null(Invitations::MemberId))
                    .col(timestamp(Invitations::CreatedAt))
                    .col(timestamp(Invitations::UpdatedAt))
                    .check(one_of("status", &["pending", "accepted", "revoked"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_developer_fk")
                            .from(Invitations::Table, Invitations::DeveloperId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("invitations_member_fk")
                            .from(Invitations::Table, Invitations::MemberId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("invitations_developer_idx")
                    .table(Invitations::Table)
                    .col(Invitations::DeveloperId)
                    .col(Invitations::Id)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // One open invitation per (team, email); answered and revoked ones stay as history.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX invitations_pending_key \
             ON invitations (developer_id, email) WHERE status = 'pending'",
        )
        .await?;

        manager
            .create_table(
                Table::create()
                    .table(AccountTokens::Table)
                    .col(id_pk(AccountTokens::Id))
                    .col(uuid_ref(AccountTokens::UserId))
                    .col(text(AccountTokens::Purpose))
                    .col(text(AccountTokens::TokenHash).unique_key())
                    .col(timestamp(AccountTokens::ExpiresAt))
                    .col(timestamp_null(AccountTokens::UsedAt))
                    .col(timestamp(AccountTokens::CreatedAt))
                    .check(one_of("purpose", &["email_verification", "password_reset"]))
                    .foreign_key(
                        ForeignKey::create()
                            .name("account_tokens_user_fk")
                            .from(AccountTokens::Table, AccountTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("account_tokens_user_idx")
                    .table(AccountTokens::Table)
                    .col(AccountTokens::UserId)
                    .to_owned(),
            )
            .await?;

        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                rebuild_assignments_on_sqlite(manager, Shape::WithInvitations).await?
            }
            _ => alter_assignments(manager).await?,
        }
        // A member's seats and an invitation's pending seats are looked up by holder.
        for (name, column) in [
            (
                "license_assignments_invitation_idx",
                LicenseAssignments::InvitationId,
            ),
            ("license_assignments_user_idx", LicenseAssignments::UserId),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(LicenseAssignments::Table)
                        .col(column)
                        .to_owned(),
                )
                .await?;
        }
        db.execute_unprepared(
            "CREATE UNIQUE INDEX license_assignments_pending_key \
             ON license_assignments (license_id, invitation_id) WHERE status = 'pending'",
        )
        .await?;
        Ok(())
    }

    /// Seats that only ever waited on an invitation go with it; held ones stay.
    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                rebuild_assignments_on_sqlite(manager, Shape::MembersOnly).await?
            }
            _ => {
                let statuses = PREVIOUS_STATUSES.map(|s| format!("'{s}'")).join(", ");
                let db = manager.get_connection();
                db.execute_unprepared(
                    "DELETE FROM license_assignments WHERE user_id IS NULL OR status = 'pending'",
                )
                .await?;
                db.execute_unprepared(&format!(
                    "DROP INDEX license_assignments_user_idx; \
                     ALTER TABLE license_assignments \
                       DROP CONSTRAINT license_assignments_holder_check, \
                       DROP CONSTRAINT license_assignments_status_check, \
                       ADD CONSTRAINT license_assignments_status_check CHECK (status IN ({statuses})), \
                       DROP COLUMN invitation_id, \
                       ALTER COLUMN user_id SET NOT NULL"
                ))
                .await?;
            }
        }
        for table in ["account_tokens", "invitations"] {
            manager
                .drop_table(Table::drop().table(Alias::new(table)).to_owned())
                .await?;
        }
        Ok(())
    }
}

/// PostgreSQL changes the table in place.
async fn alter_assignments(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let statuses = ASSIGNMENT_STATUSES.map(|s| format!("'{s}'")).join(", ");
    manager
        .get_connection()
        .execute_unprepared(&format!(
            "ALTER TABLE license_assignments \
               ALTER COLUMN user_id DROP NOT NULL, \
               ADD COLUMN invitation_id uuid NULL \
                 CONSTRAINT license_assignments_invitation_fk \
                 REFERENCES invitations (id) ON DELETE CASCADE, \
               DROP CONSTRAINT license_assignments_status_check, \
               ADD CONSTRAINT license_assignments_status_check CHECK (status IN ({statuses})), \
               ADD CONSTRAINT license_assignments_holder_check CHECK ({ASSIGNMENT_HOLDER})"
        ))
        .await?;
    Ok(())
}

/// The shape `license_assignments` is rebuilt to on SQLite.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Seats may wait on invitations (this migration's).
    WithInvitations,
    /// Every seat names its member (the shape before it).
    MembersOnly,
}

/// SQLite cannot loosen a column or a CHECK in place: the table is made again in the wanted
/// shape with the same column shapes, its rows copied, and its indexes recreated. Nothing
/// references it.
async fn rebuild_assignments_on_sqlite(
    manager: &SchemaManager<'_>,
    shape: Shape,
) -> Result<(), DbErr> {
    #[derive(DeriveIden)]
    enum Next {
        #[sea_orm(iden = "license_assignments_next")]
        Table,
    }
    let with_invitations = shape == Shape::WithInvitations;
    let mut create = Table::create();
    create
        .table(Next::Table)
        .col(id_pk(LicenseAssignments::Id))
        .col(uuid_ref(LicenseAssignments::LicenseId));
    if with_invitations {
        create
            .col(uuid_ref_null(LicenseAssignments::UserId))
            .col(uuid_ref_null(LicenseAssignments::InvitationId));
    } else {
        create.col(uuid_ref(LicenseAssignments::UserId));
    }
    create
        .col(text(LicenseAssignments::Status))
        .col(timestamp(LicenseAssignments::AssignedAt))
        .col(timestamp_null(LicenseAssignments::ReleasedAt))
        .col(uuid_ref_null(LicenseAssignments::AssignedBy))
        .col(timestamp(LicenseAssignments::CreatedAt))
        .col(timestamp(LicenseAssignments::UpdatedAt))
        .foreign_key(
            ForeignKey::create()
                .name("license_assignments_license_fk")
                .from(Next::Table, LicenseAssignments::LicenseId)
                .to(Licenses::Table, Licenses::Id)
                .on_delete(ForeignKeyAction::Cascade),
        )
        .foreign_key(
            ForeignKey::create()
                .name("license_assignments_user_fk")
                .from(Next::Table, LicenseAssignments::UserId)
                .to(Users::Table, Users::Id)
                .on_delete(ForeignKeyAction::Cascade),
        );
    if with_invitations {
        create
            .check(one_of("status", &ASSIGNMENT_STATUSES))
            .check(Expr::cust(ASSIGNMENT_HOLDER))
            .foreign_key(
                ForeignKey::create()
                    .name("license_assignments_invitation_fk")
                    .from(Next::Table, LicenseAssignments::InvitationId)
                    .to(Invitations::Table, Invitations::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
    } else {
        create.check(one_of("status", &PREVIOUS_STATUSES));
    }
    let create = manager.get_database_backend().build(&create).to_string();
    let copy = if with_invitations {
        "INSERT INTO license_assignments_next \
           (id, license_id, user_id, status, assigned_at, released_at, assigned_by, created_at, updated_at) \
         SELECT id, license_id, user_id, status, assigned_at, released_at, assigned_by, created_at, updated_at \
         FROM license_assignments"
    } else {
        "INSERT INTO license_assignments_next \
           (id, license_id, user_id, status, assigned_at, released_at, assigned_by, created_at, updated_at) \
         SELECT id, license_id, user_id, status, assigned_at, released_at, assigned_by, created_at, updated_at \
         FROM license_assignments WHERE user_id IS NOT NULL AND status <> 'pending'"
    };
    // One call, so one connection: another pooled connection could still read the table as it
    // was before the drop.
    let statements = [
        create.as_str(),
        copy,
        "DROP TABLE license_assignments",
        "ALTER TABLE license_assignments_next RENAME TO license_assignments",
        "CREATE INDEX license_assignments_license_idx ON license_assignments (license_id)",
        "CREATE UNIQUE INDEX license_assignments_active_key \
         ON license_assignments (license_id, user_id) WHERE status = 'active'",
    ];
    manager
        .get_connection()
        .execute_unprepared(&statements.join(";\n"))
        .await?;
    Ok(())
}
