//! Master data (managers): territories, locations, customer types, customers, products and their
//! prices and stock receipts, carriers and warehouses, delisting.

use super::*;

/// Master data that is a name at an optional location.
#[derive(Clone, Copy)]
enum Site {
    Carrier,
    Warehouse,
}

impl Desk {
    // ----- master data (managers) -----

    pub fn add_territory(
        &mut self,
        actor: &Actor,
        name: &str,
        manager_first: &str,
        manager_last: &str,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        non_empty("manager_first_name", manager_first)?;
        non_empty("manager_last_name", manager_last)?;
        self.atomic(|tx, _| {
            let id = tx.query_row(
                "insert into territories (territory_id, name, manager_first_name, manager_last_name) values ((select coalesce(max(territory_id), 1000000000) + 1 from territories), ?1, ?2, ?3) returning territory_id",
                params![name, manager_first, manager_last], |r| r.get::<i64>(0),
            )
            .map_err(|e| unique_violation(e, "name", "a territory with this name exists"))?;

            event(tx, "territory_added", "territories", &orderlake_landing::Territory { territory_id: id, territory_name: name.to_string(), manager_first_name: manager_first.to_string(), manager_last_name: manager_last.to_string(), updated_at: None })?;
            Ok(id)
        })
    }

    pub fn add_location(
        &mut self,
        actor: &Actor,
        region: &str,
        territory_id: i64,
        state: &str,
        city: &str,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("region", region)?;
        non_empty("state", state)?;
        non_empty("city", city)?;
        self.atomic(|tx, _| {
            exists(tx, "territories", "territory_id", territory_id, "territory")?;
            let id = tx.query_row(
                "insert into locations (location_id, region, territory_id, state, city) values ((select coalesce(max(location_id), 1000000000) + 1 from locations), ?1, ?2, ?3, ?4) returning location_id",
                params![region, territory_id, state, city], |r| r.get::<i64>(0),
            )
            .map_err(|e| unique_violation(e, "city", "this location (region, territory, state, city) exists"))?;

            event(tx, "location_added", "locations", &orderlake_landing::Location { location_id: id, region: region.to_string(), country: None, state: state.to_string(), city: city.to_string(), territory_id, updated_at: None })?;
            Ok(id)
        })
    }

    pub fn add_customer_type(&mut self, actor: &Actor, name: &str) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        self.atomic(|tx, _| {
            let id = tx.query_row(
                "insert into customer_types (customer_type_id, name) values ((select coalesce(max(customer_type_id), 1000000000) + 1 from customer_types), ?1) returning customer_type_id",
                params![name], |r| r.get::<i64>(0),
            )
            .map_err(|e| unique_violation(e, "name", "this customer type exists"))?;

            event(tx, "customer_type_added", "customer_types", &orderlake_landing::CustomerType { customer_type_id: id, customer_type: name.to_string() })?;
            Ok(id)
        })
    }

    pub fn add_customer(
        &mut self,
        actor: &Actor,
        name: &str,
        customer_type_id: i64,
        email: Option<&str>,
        location_id: i64,
        credit_limit_cents: i64,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        if credit_limit_cents < 0 {
            return Err(DeskError::invalid("credit_limit", "must be 0 or more"));
        }
        self.atomic(|tx, _| {
            exists(tx, "customer_types", "customer_type_id", customer_type_id, "customer type")?;
            exists(tx, "locations", "location_id", location_id, "location")?;
            let at = now();
            let id = tx.query_row(
                "insert into customers (customer_id, name, customer_type_id, email, location_id, registered_at, credit_limit_cents) values ((select coalesce(max(customer_id), 1000000000) + 1 from customers), ?1, ?2, ?3, ?4, ?5, ?6) returning customer_id",
                params![name, customer_type_id, email, location_id, at, credit_limit_cents], |r| r.get::<i64>(0),
            )
            .map_err(|e| unique_violation(e, "name", "a customer with this name, location and type exists"))?;

            event(tx, "customer_added", "customers", &records::customer(tx, id)?)?;
            Ok(id)
        })
    }

    pub fn add_product(&mut self, actor: &Actor, product: &NewProduct<'_>) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("description", product.description)?;
        for (field, v) in [
            ("unit_price", product.price_cents),
            ("unit_cost", product.cost_cents),
            ("on_hand", product.on_hand),
        ] {
            if v < 0 {
                return Err(DeskError::invalid(field, "must be 0 or more"));
            }
        }
        self.atomic(|tx, _| {
            let id = tx.query_row(
                "insert into products (product_id, description, brand, category, price_cents, cost_cents, on_hand) values ((select coalesce(max(product_id), 1000000000) + 1 from products), ?1, ?2, ?3, ?4, ?5, ?6) returning product_id",
                params![
                    product.description,
                    product.brand,
                    product.category,
                    product.price_cents,
                    product.cost_cents,
                    0_i64
                ], |r| r.get::<i64>(0),
            )?;

            record_product_version(tx, id)?;
            // Opening stock is a receipt, so the movements explain every unit on hand.
            if product.on_hand > 0 {
                move_stock(tx, id, "receipt", product.on_hand, None)?;
            }
            event(tx, "product_changed", "products", &records::product(tx, id)?)?;
            Ok(id)
        })
    }

    /// A new price and/or cost from now on; the previous version's validity ends now.
    pub fn change_price(
        &mut self,
        actor: &Actor,
        product_id: i64,
        price_cents: Option<i64>,
        cost_cents: Option<i64>,
    ) -> Result<()> {
        actor.require(MANAGER_ONLY, "change master data")?;
        for (field, v) in [("unit_price", price_cents), ("unit_cost", cost_cents)] {
            if v.is_some_and(|v| v < 0) {
                return Err(DeskError::invalid(field, "must be 0 or more"));
            }
        }
        self.atomic(|tx, _| {
            exists(tx, "products", "product_id", product_id, "product")?;
            exec(tx,
                "update products set price_cents = coalesce(?2, price_cents), cost_cents = coalesce(?3, cost_cents) where product_id = ?1",
                params![product_id, price_cents, cost_cents],
            )?;
            record_product_version(tx, product_id)?;
            let product = records::product(tx, product_id)?;
            event(tx, "product_changed", "products", &product)?;
            audit(tx, "products", product_id, "price", &actor.name, &product)
        })
    }

    /// Receives stock into a product.
    pub fn receive_stock(&mut self, actor: &Actor, product_id: i64, quantity: i64) -> Result<()> {
        actor.require(MANAGER_ONLY, "change master data")?;
        if quantity <= 0 {
            return Err(DeskError::invalid("quantity", "must be greater than 0"));
        }
        self.atomic(|tx, _| {
            exists(tx, "products", "product_id", product_id, "product")?;
            move_stock(tx, product_id, "receipt", quantity, None)?;
            audit(
                tx,
                "products",
                product_id,
                "receipt",
                &actor.name,
                &json!({"quantity": quantity}),
            )
        })
    }

    pub fn add_carrier(
        &mut self,
        actor: &Actor,
        name: &str,
        location_id: Option<i64>,
    ) -> Result<i64> {
        self.add_site(actor, Site::Carrier, name, location_id)
    }

    pub fn add_warehouse(
        &mut self,
        actor: &Actor,
        name: &str,
        location_id: Option<i64>,
    ) -> Result<i64> {
        self.add_site(actor, Site::Warehouse, name, location_id)
    }

    /// A carrier or warehouse: a name, optionally at a known location.
    fn add_site(
        &mut self,
        actor: &Actor,
        site: Site,
        name: &str,
        location_id: Option<i64>,
    ) -> Result<i64> {
        actor.require(MANAGER_ONLY, "change master data")?;
        non_empty("name", name)?;
        let (table, key, event_type) = match site {
            Site::Carrier => ("carriers", "carrier_id", "carrier_added"),
            Site::Warehouse => ("warehouses", "warehouse_id", "warehouse_added"),
        };
        self.atomic(|tx, _| {
            if let Some(l) = location_id {
                exists(tx, "locations", "location_id", l, "location")?;
            }
            let id = tx.query_row(
                &format!("insert into {table} ({key}, name, location_id) values ((select coalesce(max({key}), 1000000000) + 1 from {table}), ?1, ?2) returning {key}"),
                params![name, location_id], |r| r.get::<i64>(0),
            )
            // Only warehouse names are unique.
            .map_err(|e| unique_violation(e, "name", &format!("a {} with this name exists", &table[..table.len() - 1])))?;

            match site {
                Site::Carrier => event(tx, event_type, table, &orderlake_landing::Carrier {
                    carrier_id: id,
                    carrier_name: name.to_string(),
                    location_id,
                })?,
                Site::Warehouse => event(tx, event_type, table, &orderlake_landing::Warehouse {
                    warehouse_id: id,
                    warehouse_name: name.to_string(),
                    location_id,
                })?,
            }
            Ok(id)
        })
    }

    /// Delists a customer (inactive: no new orders). Customers are never erased.
    pub fn delist_customer(&mut self, actor: &Actor, customer_id: i64) -> Result<()> {
        actor.require(MANAGER_ONLY, "change master data")?;
        self.atomic(|tx, _| {
            exists(tx, "customers", "customer_id", customer_id, "customer")?;
            audit(
                tx,
                "customers",
                customer_id,
                "delist",
                &actor.name,
                &records::customer(tx, customer_id)?,
            )?;
            exec(
                tx,
                "update customers set active = 0 where customer_id = ?1",
                params![customer_id],
            )?;
            event(
                tx,
                "customer_changed",
                "customers",
                &records::customer(tx, customer_id)?,
            )
        })
    }
}
