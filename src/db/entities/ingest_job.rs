//! `ingest_jobs`: the durable work queue of the ingest worker.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ingest_jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i32,
    pub document_id: String,
    pub version: i32,
    /// `extract` (a new version) or `refresh` (markings or metadata changed).
    pub kind: String,
    /// `pending`, `running` or `failed` (finished jobs are deleted).
    pub state: String,
    pub attempts: i32,
    #[sea_orm(column_type = "Text", nullable)]
    pub error: Option<String>,
    /// A running job whose lease expired is claimed again (its worker died).
    pub claimed_until: Option<ChronoDateTimeUtc>,
    /// The claim that owns a running job (a random token per claim).
    pub claimed_by: Option<String>,
    pub created_at: ChronoDateTimeUtc,
    pub updated_at: ChronoDateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
