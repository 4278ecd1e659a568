//! `handling_requests`: a reader's request to a document's provider (judicial use of an H1
//! document, dissemination of an H2 one, a sanitised version of any) and the provider's decision.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "handling_requests")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub document_id: String,
    /// `judicial-use`, `dissemination` or `sanitised-version` (see `policy::RequestKind`).
    pub kind: String,
    /// `pending`, `approved`, `denied`, or `withdrawn` (the document was withdrawn first).
    pub status: String,
    #[sea_orm(column_type = "Text")]
    pub justification: String,
    pub case_reference: Option<String>,
    /// To whom a dissemination would pass the document.
    pub recipient_organisation: Option<String>,
    pub recipient_country: Option<String>,
    pub requester_sub: String,
    pub requester_name: String,
    pub requester_organisation: String,
    pub requester_country: String,
    /// Organisation keys (`policy::organisation_key`) of the two parties.
    pub requester_key: String,
    pub provider_key: String,
    pub created_at: ChronoDateTimeUtc,
    pub decided_at: Option<ChronoDateTimeUtc>,
    pub decided_by: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub decision_note: Option<String>,
    /// The derivative document that answers an approved `sanitised-version` request.
    pub derivative_id: Option<String>,
}

/// The foreign key lives in the migration; nothing here navigates between the tables.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
