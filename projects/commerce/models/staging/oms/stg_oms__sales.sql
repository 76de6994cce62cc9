-- The OMS lakehouse's sale and return lines (gold.fct_sales of the bundled OMS project, built in
-- the same warehouse; none when it was not): the generated data and the order desk's, already
-- deduplicated, priced and taxed by that project.
select * from {{ optional_table('oms', 'fct_sales', {
    'line_type': 'varchar', 'order_id': 'bigint', 'line_no': 'bigint', 'return_id': 'bigint',
    'customer_id': 'bigint', 'product_id': 'bigint', 'event_at': 'timestamp', 'quantity': 'bigint',
    'unit_price': 'decimal(18, 2)', 'gross_amount': 'decimal(18, 2)', 'discount_amount': 'decimal(18, 2)',
    'net_revenue': 'decimal(18, 2)', 'vat_amount': 'decimal(18, 2)'}) }} s
