// pgJDBC, the driver of Metabase, DBeaver and most JVM BI tools, against `orderlake serve`:
// the DatabaseMetaData calls a BI tool makes to browse (schemas, tables with their comments,
// columns, primary and foreign keys, type info) and a PreparedStatement with a parameter.
//
// Run (JDK 11+ source-file mode):
//   java -cp /usr/share/java/postgresql.jar JdbcClient.java HOST PORT USER PASSWORD DB COUNT SUM
// Prints one line per check; exits 1 on the first failure.
import java.math.BigDecimal;
import java.sql.*;
import java.util.*;

public class JdbcClient {
    static void check(String name, boolean ok, String detail) {
        System.out.println((ok ? "ok: " : "FAIL: ") + name + " " + detail);
        if (!ok) System.exit(1);
    }

    static List<Map<String, String>> rows(ResultSet rs) throws SQLException {
        ResultSetMetaData md = rs.getMetaData();
        List<Map<String, String>> out = new ArrayList<>();
        while (rs.next()) {
            Map<String, String> row = new LinkedHashMap<>();
            for (int i = 1; i <= md.getColumnCount(); i++) row.put(md.getColumnLabel(i).toUpperCase(), rs.getString(i));
            out.add(row);
        }
        return out;
    }

    public static void main(String[] a) throws Exception {
        String url = "jdbc:postgresql://" + a[0] + ":" + a[1] + "/" + a[4];
        long expectedCount = Long.parseLong(a[5]);
        BigDecimal expectedSum = new BigDecimal(a[6]);
        try (Connection c = DriverManager.getConnection(url, a[2], a[3])) {
            DatabaseMetaData md = c.getMetaData();
            check("product", md.getDatabaseProductName().equals("PostgreSQL"), md.getDatabaseProductVersion());

            List<String> schemas = new ArrayList<>();
            for (Map<String, String> r : rows(md.getSchemas())) schemas.add(r.get("TABLE_SCHEM"));
            check("getSchemas", schemas.contains("gold") && schemas.contains("silver"), schemas.toString());

            List<Map<String, String>> tables = rows(md.getTables(null, "gold", "%", new String[] {"TABLE", "VIEW"}));
            Map<String, String> metrics = null;
            for (Map<String, String> t : tables) if ("customer_metrics".equals(t.get("TABLE_NAME"))) metrics = t;
            check("getTables", metrics != null, tables.size() + " gold tables");
            check("table REMARKS from the YAML", metrics.get("REMARKS") != null && !metrics.get("REMARKS").isEmpty(), String.valueOf(metrics.get("REMARKS")));

            List<Map<String, String>> columns = rows(md.getColumns(null, "gold", "customer_metrics", "%"));
            Map<String, String> clv = null;
            for (Map<String, String> col : columns) if ("clv".equals(col.get("COLUMN_NAME"))) clv = col;
            check("getColumns", clv != null && "numeric".equals(clv.get("TYPE_NAME")), columns.size() + " columns; clv " + (clv == null ? "missing" : clv.get("TYPE_NAME")));
            check("column REMARKS", clv.get("REMARKS") != null, String.valueOf(clv.get("REMARKS")));

            check("getPrimaryKeys", rows(md.getPrimaryKeys(null, "gold", "customer_metrics")).isEmpty(), "none (Delta tables have no keys)");
            check("getImportedKeys", rows(md.getImportedKeys(null, "gold", "customer_metrics")).isEmpty(), "none");
            check("getIndexInfo", rows(md.getIndexInfo(null, "gold", "customer_metrics", false, true)).isEmpty(), "none");
            List<Map<String, String>> types = rows(md.getTypeInfo());
            boolean hasNumeric = false;
            for (Map<String, String> t : types) hasNumeric |= "numeric".equals(t.get("TYPE_NAME"));
            check("getTypeInfo", hasNumeric, types.size() + " types");

            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("select count(*) as n, sum(clv) as total from gold.customer_metrics")) {
                rs.next();
                long n = rs.getLong("n");
                BigDecimal total = rs.getBigDecimal("total");
                check("Statement count and sum", n == expectedCount && total.compareTo(expectedSum) == 0, n + ", " + total);
            }
            try (PreparedStatement p = c.prepareStatement("select count(*), sum(clv) from gold.customer_metrics where clv >= ? and customer_name <> ?")) {
                p.setBigDecimal(1, new BigDecimal("-1000000000"));
                p.setString(2, "nobody");
                try (ResultSet rs = p.executeQuery()) {
                    rs.next();
                    check("PreparedStatement with parameters", rs.getLong(1) == expectedCount && rs.getBigDecimal(2).compareTo(expectedSum) == 0, rs.getLong(1) + ", " + rs.getBigDecimal(2));
                    check("PostgreSQL's column names", rs.getMetaData().getColumnLabel(1).equals("count") && rs.getMetaData().getColumnLabel(2).equals("sum"), rs.getMetaData().getColumnLabel(1) + ", " + rs.getMetaData().getColumnLabel(2));
                }
            }
            try (Statement s = c.createStatement()) {
                s.executeUpdate("delete from gold.customer_metrics");
                check("DELETE refused", false, "");
            } catch (SQLException e) {
                check("DELETE refused", "25006".equals(e.getSQLState()), e.getSQLState() + ": " + e.getMessage());
            }
        }
        try {
            DriverManager.getConnection(url, "nobody", "wrong").close();
            check("wrong login refused", false, "");
        } catch (SQLException e) {
            check("wrong login refused, naming the user", e.getMessage().contains("nobody"), e.getMessage());
        }
        System.out.println("all JDBC checks passed");
    }
}
