//! D1 behind the core's [`SqlDb`], through `glue.js`: D1's own client API, with no conversion
//! layer in between (no `worker` D1 wrapper, no serde).

use crate::entry::Env;
use crate::glue::{js_d1_batch, js_d1_execute, js_d1_query};
use isogate_core::capability::SqlDb;
use isogate_core::error::StoreError;
use isogate_core::store::SqlValue;
use std::cell::OnceCell;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

/// The Worker's `DB` binding, looked up on first use: with warm caches a request never
/// touches it.
pub struct D1Db<'a> {
    env: &'a Env,
    binding: OnceCell<JsValue>,
}

impl D1Db<'_> {
    pub fn new(env: &Env) -> D1Db<'_> {
        D1Db {
            env,
            binding: OnceCell::new(),
        }
    }

    fn database(&self) -> Result<&JsValue, StoreError> {
        if let Some(db) = self.binding.get() {
            return Ok(db);
        }
        let db = js_sys::Reflect::get(self.env, &JsValue::from_str("DB"))
            .ok()
            .filter(JsValue::is_object)
            .ok_or_else(|| StoreError::new("the D1 binding DB is missing"))?;
        Ok(self.binding.get_or_init(|| db))
    }
}

/// D1's parameters: null, numbers and strings.
fn bind(values: &[SqlValue]) -> js_sys::Array {
    values
        .iter()
        .map(|v| match v {
            SqlValue::Null => JsValue::NULL,
            SqlValue::Integer(i) => JsValue::from_f64(*i as f64),
            SqlValue::Text(s) => JsValue::from_str(s),
        })
        .collect()
}

/// D1's error, for the core to report (as a `Diagnostic`, logged by the request loop). D1's
/// messages carry the SQL text, never bound values, so no secret reaches the log.
fn store_error(e: JsValue) -> StoreError {
    let message = js_sys::Reflect::get(&e, &JsValue::from_str("message"))
        .ok()
        .and_then(|m| m.as_string())
        .or_else(|| e.as_string())
        .unwrap_or_default();
    StoreError(format!("d1: {message}"))
}

/// A D1 column value: integers arrive as JavaScript numbers.
fn sql_value(v: JsValue) -> SqlValue {
    if v.is_null() || v.is_undefined() {
        SqlValue::Null
    } else if let Some(n) = v.as_f64() {
        SqlValue::Integer(n as i64)
    } else {
        SqlValue::Text(
            v.as_string()
                .unwrap_or_else(|| String::from(js_sys::JsString::from(v))),
        )
    }
}

impl SqlDb for D1Db<'_> {
    async fn query(
        &self,
        sql: &str,
        params: &[SqlValue],
    ) -> Result<Vec<Vec<SqlValue>>, StoreError> {
        let rows = JsFuture::from(js_d1_query(self.database()?, sql, &bind(params)))
            .await
            .map_err(store_error)?;
        let rows: js_sys::Array = rows.unchecked_into();
        let row = |row: JsValue| {
            row.unchecked_into::<js_sys::Array>()
                .iter()
                .map(sql_value)
                .collect()
        };
        Ok(rows.iter().map(row).collect())
    }

    async fn execute(&self, sql: &str, params: &[SqlValue]) -> Result<u64, StoreError> {
        let changes = JsFuture::from(js_d1_execute(self.database()?, sql, &bind(params)))
            .await
            .map_err(store_error)?;
        Ok(changes.as_f64().unwrap_or(0.0) as u64)
    }

    async fn execute_batch(&self, statements: &[(&str, Vec<SqlValue>)]) -> Result<(), StoreError> {
        let batch: js_sys::Array = statements
            .iter()
            .map(|(sql, params)| js_sys::Array::of2(&JsValue::from_str(sql), &bind(params)))
            .collect();
        JsFuture::from(js_d1_batch(self.database()?, &batch))
            .await
            .map_err(store_error)?;
        Ok(())
    }
}
