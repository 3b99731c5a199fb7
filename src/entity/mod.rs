//! SeaORM entities, one file per table. Enumerated columns are stored as lower-case strings
//! and converted by the typed enums in `crate::model`.

/// A company's table that the API returns as an object. Its `Model` holds the columns every
/// such table has (the id, which is the object's `ID`; the owning company, never shown; when
/// the row was created and last changed, the last never shown) around its own. The plain
/// columns become the GraphQL object `$object`; each room adds the computed fields with
/// `#[ComplexObject]`, and `#[graphql(skip)]` keeps a column out. `hidden(id)` and
/// `hidden(created_at)` keep those out too.
macro_rules! api_object {
    ($object:literal, $table:literal, $(#[$meta:meta])* { $($columns:tt)* }) => {
        api_object!(@model $object, $table, [$(#[$meta])*], [#[graphql(skip, derived(
            name = "id", into = "async_graphql::ID", owned
        ))]], [], { $($columns)* });
    };
    ($object:literal, $table:literal, hidden(created_at), $(#[$meta:meta])* {
        $($columns:tt)*
    }) => {
        api_object!(@model $object, $table, [$(#[$meta])*], [#[graphql(skip, derived(
            name = "id", into = "async_graphql::ID", owned
        ))]], [#[graphql(skip)]], { $($columns)* });
    };
    ($object:literal, $table:literal, hidden(id), $(#[$meta:meta])* { $($columns:tt)* }) => {
        api_object!(@model $object, $table, [$(#[$meta])*], [#[graphql(skip)]], [], {
            $($columns)*
        });
    };
    (@model $object:literal, $table:literal, [$($meta:tt)*], [$($id:tt)*], [$($created:tt)*], {
        $($columns:tt)*
    }) => {
        $($meta)*
        #[derive(
            Clone,
            Debug,
            PartialEq,
            DeriveEntityModel,
            serde::Serialize,
            serde::Deserialize,
            async_graphql::SimpleObject,
        )]
        #[graphql(name = $object, complex)]
        #[sea_orm(table_name = $table)]
        pub struct Model {
            #[sea_orm(primary_key, auto_increment = false)]
            $($id)*
            pub id: Uuid,
            #[graphql(skip)]
            pub company_id: Uuid,
            $($columns)*
            $($created)*
            pub created_at: DateTimeUtc,
            #[graphql(skip)]
            pub updated_at: DateTimeUtc,
        }
    };
}

pub mod action;
pub mod alert_channel;
pub mod alert_outbox;
pub mod api_token;
pub mod breach;
pub mod breach_count;
pub mod calendar;
pub mod company;
pub mod execution;
pub mod execution_pause;
pub mod running_rollup;
pub mod simulation;
pub mod sla;
pub mod sla_event;
pub mod sla_event_queue;
pub mod sla_rollup;
pub mod step_execution;
pub mod suggestion;
pub mod template;
pub mod user;
pub mod workflow;
pub mod workflow_version;
