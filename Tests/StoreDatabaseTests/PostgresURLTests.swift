import Foundation
import PostgresStoreDatabase
import StoreCore
import Testing

@Suite("PostgreSQL: database URLs")
struct PostgresURLTests {
    @Test func everyPartAndParameterIsRead() throws {
        let url = try PostgresDatabaseURL(
            "postgresql://platform:p%40ss%3Aw0rd@db.internal:6432/store%20platform?sslmode=require&pool_max=25"
                + "&connect_timeout=3&statement_timeout=750&application_name=replica-2"
        )
        #expect(url.endpoint == .tcp(host: "db.internal", port: 6432))
        #expect(url.user == "platform")
        #expect(url.password == "p@ss:w0rd")
        #expect(url.database == "store platform")
        #expect(url.tlsMode == .require)
        #expect(url.poolMaximum == 25)
        #expect(url.connectTimeout == .seconds(3))
        #expect(url.statementTimeoutMilliseconds == 750)
        #expect(url.applicationName == "replica-2")
        #expect(url.location == "postgresql://db.internal:6432/store%20platform")
        #expect(url.serverDescription == "db.internal:6432")
    }

    @Test func defaults() throws {
        let url = try PostgresDatabaseURL("postgres://platform@localhost/storeplatform")
        #expect(url.endpoint == .tcp(host: "localhost", port: 5432))
        #expect(url.password == nil)
        #expect(url.tlsMode == .prefer)
        #expect(url.tlsRootCertificateFile == nil)
        #expect(url.poolMaximum == 10)
        #expect(url.connectTimeout == .seconds(5))
        #expect(url.statementTimeoutMilliseconds == 5000)
        #expect(url.applicationName == "storeplatformd")
        #expect(url.location == "postgresql://localhost:5432/storeplatform")
    }

    @Test func aUserNameDefaultsToTheProcesssUser() throws {
        let url = try PostgresDatabaseURL("postgresql://localhost/storeplatform")
        let expected = String(cString: getpwuid(geteuid())!.pointee.pw_name!)
        #expect(url.user == expected)
    }

    @Test func aSocketDirectoryAsHostParameterOrEncodedHost() throws {
        let parameter = try PostgresDatabaseURL("postgresql://platform@/storeplatform?host=/run/postgresql")
        #expect(parameter.endpoint == .unixSocket(directory: "/run/postgresql", port: 5432))
        #expect(parameter.socketPath == "/run/postgresql/.s.PGSQL.5432")
        #expect(parameter.location == "postgresql:///storeplatform?host=/run/postgresql")
        #expect(parameter.serverDescription == "/run/postgresql/.s.PGSQL.5432")

        let encoded = try PostgresDatabaseURL("postgresql://platform@%2Ftmp%2Fpg:5433/storeplatform")
        #expect(encoded.endpoint == .unixSocket(directory: "/tmp/pg", port: 5433))
        #expect(encoded.socketPath == "/tmp/pg/.s.PGSQL.5433")
        #expect(encoded.location == "postgresql:///storeplatform?host=/tmp/pg&port=5433")

        let port = try PostgresDatabaseURL("postgresql:///storeplatform?host=/tmp/pg&port=6000")
        #expect(port.endpoint == .unixSocket(directory: "/tmp/pg", port: 6000))
    }

    @Test func ipv6AndVerifyFull() throws {
        let url = try PostgresDatabaseURL("postgresql://u@[::1]:5433/db?sslmode=verify-full&sslrootcert=/etc/ca.pem")
        #expect(url.endpoint == .tcp(host: "::1", port: 5433))
        #expect(url.tlsMode == .verifyFull)
        #expect(url.tlsRootCertificateFile == "/etc/ca.pem")
        #expect(url.location == "postgresql://[::1]:5433/db")
    }

    @Test(arguments: [
        ("localhost:5432/db", "the database URL must start with postgresql:// or postgres://"),
        ("mysql://h/db", "the database URL must start with postgresql:// or postgres://, not \"mysql\"://"),
        ("postgresql://h", "the database URL names no database: add it as the path (postgresql://HOST:PORT/DATABASE)"),
        ("postgresql://h:5432/", "the database URL names no database: add it as the path (postgresql://HOST:PORT/DATABASE)"),
        ("postgresql://h/a/b", "the database URL's path must be one database name (postgresql://HOST/DATABASE)"),
        ("postgresql:///db",
         "the database URL names no host: add one (postgresql://HOST:PORT/DATABASE) or a socket directory (postgresql:///DATABASE?host=/run/postgresql)"),
        ("postgresql://h:0/db", "the database URL's port must be a number from 1 to 65535, not \"0\""),
        ("postgresql://h:http/db", "the database URL's port must be a number from 1 to 65535, not \"http\""),
        ("postgresql://h:5432/db?port=5433", "the database URL gives the port twice, after the host and as ?port="),
        ("postgresql://h/db?host=/tmp", "the database URL gives the host twice, in the URL and as ?host="),
        ("postgresql://::1/db", "the database URL's IPv6 host must be in brackets (postgresql://[::1]:5432/DATABASE)"),
        ("postgresql://[::1/db", "the database URL's IPv6 host has no closing bracket ([ADDRESS]:PORT)"),
        ("postgresql://h$st/db", "the database URL's host \"h$st\" is not a host name or address"),
        ("postgresql://h/db#main", "the database URL must not have a fragment (#…)"),
        ("postgresql://h/db?sslmode=allow", "the database URL's sslmode must be disable, prefer, require or verify-full, not \"allow\""),
        ("postgresql://h/db?sslrootcert=/ca.pem", "the database URL's sslrootcert is only used with sslmode=verify-full"),
        ("postgresql://h/db?sslmode", "the database URL's parameter sslmode has no value (sslmode=VALUE)"),
        ("postgresql://h/db?pool_max=2&pool_max=3", "the database URL gives the parameter pool_max twice"),
        ("postgresql://h/db?pool_max=0", "the database URL's pool_max must be a whole number of connections from 1 to 1000, not \"0\""),
        ("postgresql://h/db?connect_timeout=1.5",
         "the database URL's connect_timeout must be a whole number of seconds from 1 to 3600, not \"1.5\""),
        ("postgresql://h/db?statement_timeout=-1",
         "the database URL's statement_timeout must be a whole number of milliseconds from 0 to 86400000, not \"-1\""),
        ("postgresql://h/db?target_session_attrs=any",
         "the database URL has an unknown parameter \"target_session_attrs\"; known ones are host, port, sslmode, sslrootcert, pool_max, connect_timeout, statement_timeout, application_name"),
        ("postgresql://u@h/d%zzb", "the database URL's database name has a malformed percent-escape (%XX)"),
    ])
    func aMalformedURLIsRefusedWithOneSentence(_ text: String, _ message: String) {
        let error = #expect(throws: PlatformError.self) { try PostgresDatabaseURL(text) }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == message)
    }

    @Test func noMessageRepeatsThePassword() throws {
        for text in [
            "postgresql://u:s3cret@h:99999/db", "postgresql://u:s3cret@h/db?nope=1", "postgresql://u:s3cr%zzet@h/db",
            "postgresql://u:s3cret@/db",
        ] {
            let error = #expect(throws: PlatformError.self) { try PostgresDatabaseURL(text) }
            #expect(error?.message.contains("s3cr") == false)
        }
        let url = try PostgresDatabaseURL("postgresql://u:s3cret@h/db")
        #expect(!url.location.contains("s3cret"))
        #expect(!url.serverDescription.contains("s3cret"))
        #expect("\(url)" == "postgresql://u@h:5432/db")
        #expect(String(reflecting: url) == "postgresql://u@h:5432/db")
    }

    @Test func aPasswordGivenTwiceIsRefused() throws {
        let withPassword = try PostgresDatabaseURL("postgresql://u:one@h/db")
        let error = #expect(throws: PlatformError.self) { try withPassword.withPassword("two") }
        #expect(error?.code == .invalidArgument)
        #expect(error?.message == "the database password is given twice, in the URL and separately; keep one (a password file keeps it out of the process list)")
        #expect(try withPassword.withPassword(nil).password == "one")
        #expect(try PostgresDatabaseURL("postgresql://u@h/db").withPassword("two").password == "two")
    }
}
