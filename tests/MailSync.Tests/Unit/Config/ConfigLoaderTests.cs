using MailSync.Core.Config;

namespace MailSync.Tests.Unit.Config;

public sealed class ConfigLoaderTests
{
    [Fact]
    public void Minimal_file_parses_with_given_values_and_defaults()
    {
        var result = ConfigLoader.Parse(ConfigJson.Minimal);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var config = result.Config!;
        Assert.Null(config.FilePath);
        Assert.Equal(2, config.Accounts.Count);

        var old = config.Accounts["old"];
        Assert.Equal("old", old.Name);
        Assert.Equal(Protocol.Imap, old.Protocol);
        Assert.Equal("127.0.0.1", old.Host);
        Assert.Equal(10143, old.Port);
        Assert.Equal(SecurityMode.None, old.Security);
        Assert.Equal("src", old.User);
        Assert.Equal(new SecretRef("env", "OLD_PASS"), old.Password);
        Assert.Null(old.OAuth2Token);
        Assert.Null(old.AuthMechanism);
        Assert.False(old.AllowInsecure);
        Assert.False(old.TrustAnyCertificate);
        Assert.Null(old.CertificateFingerprint);
        Assert.Equal(4, old.MaxConnections);
        Assert.Equal(120, old.TimeoutSeconds);
        Assert.Equal(5, old.RetryAttempts);
        Assert.Equal(2, old.RetryDelaySeconds);

        Assert.Equal(new SecretRef("file", "/path/to/secret"), config.Accounts["new"].Password);

        var job = Assert.Single(config.Jobs);
        Assert.Equal("alice", job.Name);
        Assert.Equal(JobMode.Migrate, job.Mode);
        Assert.Equal("old", job.Source);
        Assert.Equal("new", job.Target);
        Assert.Empty(job.Include);
        Assert.Empty(job.Exclude);
        Assert.Empty(job.Renames);
        Assert.Null(job.TargetPrefix);
        Assert.Null(job.TargetFolder);
        Assert.False(job.DeleteFromSource);
        Assert.Null(job.DeleteOlderThanDays);
        Assert.Empty(job.TargetFlags);
    }

    [Theory]
    [InlineData("imap", null, SecurityMode.Ssl, 993)]
    [InlineData("imap", "ssl", SecurityMode.Ssl, 993)]
    [InlineData("imap", "starttls", SecurityMode.StartTls, 143)]
    [InlineData("imap", "none", SecurityMode.None, 143)]
    [InlineData("pop3", null, SecurityMode.Ssl, 995)]
    [InlineData("pop3", "starttls", SecurityMode.StartTls, 110)]
    [InlineData("pop3", "none", SecurityMode.None, 110)]
    public void Security_defaults_to_ssl_and_port_follows_protocol_and_security(
        string protocol, string? security, SecurityMode expectedSecurity, int expectedPort)
    {
        var securityJson = security is null ? "null" : $"\"{security}\"";
        var result = ConfigJson.ParsePatched(
            $$"""{ "accounts.old": { "protocol": "{{protocol}}", "port": null, "security": {{securityJson}} } }""");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var account = result.Config!.Accounts["old"];
        Assert.Equal(expectedSecurity, account.Security);
        Assert.Equal(expectedPort, account.Port);
    }

    [Fact]
    public void Optional_fields_are_read()
    {
        var result = ConfigJson.ParsePatched("""
            {
              "accounts.old": { "security": "ssl", "password": null, "oauth2Token": "env:OLD_TOKEN", "authMechanism": "xoauth2",
                                "maxConnections": 32, "timeoutSeconds": 5, "retryAttempts": 0, "retryDelaySeconds": 300,
                                "maxResponseLineBytes": 2048, "maxLiteralBytes": 4096, "maxFolders": 7, "maxMessagesPerFolder": 9,
                                "certificateFingerprint": "ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89:ab:cd:ef:01:23:45:67:89" },
              "accounts.new": { "host": "mail.example.org", "allowInsecure": true, "trustAnyCertificate": true,
                                "retryAttempts": 20, "retryDelaySeconds": 1 },
              "jobs[0]": { "include": ["INBOX", "Work/*"], "exclude": ["Spam"], "renames": { "Old/Path": "New/Path" },
                           "targetPrefix": "Migrated" }
            }
            """);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var old = result.Config!.Accounts["old"];
        Assert.Null(old.Password);
        Assert.Equal(new SecretRef("env", "OLD_TOKEN"), old.OAuth2Token);
        Assert.Equal("XOAUTH2", old.AuthMechanism);
        Assert.Equal(32, old.MaxConnections);
        Assert.Equal(5, old.TimeoutSeconds);
        Assert.Equal(0, old.RetryAttempts);
        Assert.Equal(300, old.RetryDelaySeconds);
        Assert.Equal(new MailSync.Core.Stores.ServerLimits { ResponseLineBytes = 2048, LiteralBytes = 4096, Folders = 7, MessagesPerFolder = 9 }, old.Limits);
        Assert.Equal("ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", old.CertificateFingerprint);
        var @new = result.Config.Accounts["new"];
        Assert.True(@new.AllowInsecure);
        Assert.Equal(20, @new.RetryAttempts);
        Assert.Equal(1, @new.RetryDelaySeconds);
        Assert.True(@new.TrustAnyCertificate);
        var job = result.Config.Jobs[0];
        Assert.Equal(["INBOX", "Work/*"], job.Include);
        Assert.Equal(["Spam"], job.Exclude);
        Assert.Equal("New/Path", job.Renames["Old/Path"]);
        Assert.Equal("Migrated", job.TargetPrefix);
        Assert.Null(job.TargetFolder);
    }

    [Fact]
    public void An_oauth2Token_alone_is_enough_and_leaves_the_mechanism_unset()
    {
        var result = ConfigJson.ParsePatched("""{ "accounts.old": { "password": null, "oauth2Token": "file:/run/token" } }""");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var old = result.Config!.Accounts["old"];
        Assert.Null(old.Password);
        Assert.Equal(new SecretRef("file", "/run/token"), old.OAuth2Token);
        Assert.Null(old.AuthMechanism);
    }

    [Theory]
    [InlineData("pop3", "user", "USER")]
    [InlineData("pop3", "Apop", "APOP")]
    [InlineData("pop3", "PLAIN", "PLAIN")]
    [InlineData("imap", "login", "LOGIN")]
    [InlineData("imap", "cram-md5", "CRAM-MD5")]
    public void AuthMechanism_is_stored_in_upper_case(string protocol, string mechanism, string expected)
    {
        var result = ConfigJson.ParsePatched(
            $$"""{ "accounts.old": { "protocol": "{{protocol}}", "authMechanism": "{{mechanism}}" } }""");

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(expected, result.Config!.Accounts["old"].AuthMechanism);
    }

    [Theory]
    [InlineData("true", null, true, null)]
    [InlineData("true", "1", true, 1)]
    [InlineData("true", "36500", true, 36500)]
    [InlineData("false", null, false, null)]
    public void Deleting_from_a_pop3_source_is_read(string deleteFromSource, string? days, bool expectedDelete, int? expectedDays)
    {
        var result = ConfigJson.ParsePatched($$"""
            { "accounts.old": { "protocol": "pop3" },
              "jobs[0]": { "deleteFromSource": {{deleteFromSource}}, "deleteOlderThanDays": {{days ?? "null"}} } }
            """);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        var job = result.Config!.Jobs[0];
        Assert.Equal(expectedDelete, job.DeleteFromSource);
        Assert.Equal(expectedDays, job.DeleteOlderThanDays);
    }

    [Fact]
    public void Target_flags_keep_their_order_with_system_flags_spelled_canonically()
    {
        var result = ConfigJson.ParsePatched("""
            { "accounts.old": { "protocol": "pop3" },
              "jobs[0]": { "targetFolder": "FromPop", "targetFlags": ["\\seen", "$Imported", "\\ANSWERED", "\\Flagged", "\\draft", "NonJunk", "a.b-c_d!~'#&"] } }
            """);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(
            ["\\Seen", "$Imported", "\\Answered", "\\Flagged", "\\Draft", "NonJunk", "a.b-c_d!~'#&"],
            result.Config!.Jobs[0].TargetFlags);
        Assert.Equal("FromPop", result.Config.Jobs[0].TargetFolder);
    }

    [Fact]
    public void Property_names_and_enum_values_are_case_insensitive_and_accounts_are_looked_up_case_insensitively()
    {
        var json = """
            {
              "Accounts": {
                "Old": { "PROTOCOL": "IMAP", "Host": "localhost", "Security": "StartTLS", "User": "src", "Password": "ENV:OLD_PASS" },
                "new": { "protocol": "Imap", "host": "localhost", "security": "NONE", "user": "dst", "password": "File:/secret" }
              },
              "JOBS": [ { "Name": "a", "Mode": "Migrate", "Source": "old", "Target": "NEW" } ]
            }
            """;

        var result = ConfigLoader.Parse(json);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(SecurityMode.StartTls, result.Config!.Accounts["old"].Security);
        Assert.Equal(new SecretRef("env", "OLD_PASS"), result.Config.Accounts["OLD"].Password);
    }

    [Fact]
    public void Comments_and_trailing_commas_are_allowed()
    {
        var json = """
            // a job file
            {
              "accounts": {
                /* source */ "old": { "protocol": "imap", "host": "localhost", "security": "none", "user": "u", "password": "env:A", },
                "new": { "protocol": "imap", "host": "localhost", "security": "none", "user": "u", "password": "env:B" }, // target
              },
              "jobs": [ { "name": "j", "mode": "migrate", "source": "old", "target": "new", }, ],
            }
            """;

        var result = ConfigLoader.Parse(json);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Fact]
    public void Syntax_error_is_one_error_with_line_and_position()
    {
        var json = "{\n  \"accounts\": {\n    \"old\" { }\n  }\n}";

        var result = ConfigLoader.Parse(json, "/tmp/job.json");

        Assert.False(result.IsValid);
        Assert.Null(result.Config);
        var error = Assert.Single(result.Errors);
        Assert.Equal("/tmp/job.json", error.Location);
        Assert.StartsWith("invalid JSON at line 3, position ", error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("LineNumber", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("\"accounts\"")]
    public void A_file_that_is_not_an_object_is_one_error(string json)
    {
        var result = ConfigLoader.Parse(json);

        var error = Assert.Single(result.Errors);
        Assert.Equal("config", error.Location);
    }

    [Fact]
    public void Load_reports_a_missing_file_at_its_path()
    {
        var path = Path.Combine(Path.GetTempPath(), $"mailsync-missing-{Guid.NewGuid():N}.json");

        var result = ConfigLoader.Load(path);

        var error = Assert.Single(result.Errors);
        Assert.Equal(path, error.Location);
        Assert.Contains("not found", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Absolute_secret_files_are_kept_as_written()
    {
        var result = ConfigLoader.Parse(ConfigJson.Minimal, "/some/dir/job.json");

        Assert.Equal(new SecretRef("file", "/path/to/secret"), result.Config!.Accounts["new"].Password);
    }

    [Fact]
    public void Load_resolves_relative_secret_files_against_the_file_directory()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "job.json");
        File.WriteAllText(path, ConfigJson.Patch("""{ "accounts.new": { "password": "file:secrets/dst" } }"""));

        var result = ConfigLoader.Load(path);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(Path.GetFullPath(path), result.Config!.FilePath);
        Assert.Equal(new SecretRef("file", Path.Combine(directory.Path, "secrets", "dst")), result.Config.Accounts["new"].Password);
    }

    [Fact]
    public void Load_resolves_relative_token_files_against_the_file_directory()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "job.json");
        File.WriteAllText(path, ConfigJson.Patch("""{ "accounts.new": { "password": null, "oauth2Token": "file:secrets/token" } }"""));

        var result = ConfigLoader.Load(path);

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        Assert.Equal(new SecretRef("file", Path.Combine(directory.Path, "secrets", "token")), result.Config!.Accounts["new"].OAuth2Token);
    }
}
