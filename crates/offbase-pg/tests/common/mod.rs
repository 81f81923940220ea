//! What the crate's tests share: the database they run against.

pub fn database_url() -> String {
    std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://root@127.0.0.1:5432/test".to_owned())
}

pub async fn connection() -> sqlx::PgConnection {
    match offbase_pg::connect(&database_url()).await {
        Ok(connection) => connection,
        Err(error) => panic!("connect: {error}"),
    }
}
