using MailSync.Core.Config;

namespace MailSync.Tests.Unit.Config;

public sealed class SecretRefTests
{
    [Theory]
    [InlineData("env:MAIL_PASS", "env", "MAIL_PASS")]
    [InlineData("ENV:MAIL_PASS", "env", "MAIL_PASS")]
    [InlineData("file:/run/secrets/mail", "file", "/run/secrets/mail")]
    [InlineData("File:secrets/my mail", "file", "secrets/my mail")]
    public void TryParse_accepts_env_and_file_references(string text, string kind, string value)
    {
        Assert.True(SecretRef.TryParse(text, out var secret));
        Assert.Equal(new SecretRef(kind, value), secret);
        Assert.Equal($"{kind}:{value}", secret.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("hunter2")]
    [InlineData("env:")]
    [InlineData("env:A B")]
    [InlineData("env:A=B")]
    [InlineData("file:")]
    [InlineData("file:  ")]
    [InlineData("literal:pw")]
    public void TryParse_rejects_literals_and_empty_references(string text)
    {
        Assert.False(SecretRef.TryParse(text, out var secret));
        Assert.Null(secret);
    }

    [Fact]
    public void Env_reference_resolves_to_the_variable()
    {
        var name = UniqueVariable();
        Environment.SetEnvironmentVariable(name, "pa55word");
        try
        {
            Assert.Equal("pa55word", new SecretRef("env", name).Resolve());
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void Missing_env_variable_names_the_variable()
    {
        var name = UniqueVariable();

        var ex = Assert.Throws<ConfigException>(() => new SecretRef("env", name).Resolve());

        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
        Assert.Contains("not set", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("pa55word\n", "pa55word")]
    [InlineData("pa55word\r\n", "pa55word")]
    [InlineData("pa55word\n\n", "pa55word\n")]
    [InlineData("pa55word", "pa55word")]
    [InlineData(" pa55 word ", " pa55 word ")]
    public void File_reference_resolves_to_the_content_without_one_trailing_newline(string content, string expected)
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "secret");
        File.WriteAllText(path, content);

        Assert.Equal(expected, new SecretRef("file", path).Resolve());
    }

    [Fact]
    public void Missing_file_names_the_path()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "nope", "secret");

        var ex = Assert.Throws<ConfigException>(() => new SecretRef("file", path).Resolve());

        Assert.Contains(path, ex.Message, StringComparison.Ordinal);
        Assert.Contains("does not exist", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Empty_file_is_an_error()
    {
        using var directory = new TempDirectory();
        var path = Path.Combine(directory.Path, "secret");
        File.WriteAllText(path, "\n");

        var ex = Assert.Throws<ConfigException>(() => new SecretRef("file", path).Resolve());

        Assert.Contains("is empty", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Printing_an_account_shows_the_reference_never_the_secret()
    {
        var name = UniqueVariable();
        Environment.SetEnvironmentVariable(name, "Very-Secret-Value");
        try
        {
            var account = new AccountConfig
            {
                Name = "old", Host = "localhost", Port = 143, User = "u", Password = new SecretRef("env", name),
            };
            _ = account.Password!.Resolve();

            var printed = account.ToString();

            Assert.Contains($"Password = env:{name}", printed, StringComparison.Ordinal);
            Assert.DoesNotContain("Very-Secret-Value", printed, StringComparison.Ordinal);
        }
        finally
        {
            Environment.SetEnvironmentVariable(name, null);
        }
    }

    [Fact]
    public void CheckSecrets_reports_unreadable_secrets_of_the_accounts_the_jobs_use()
    {
        using var directory = new TempDirectory();
        var oldVariable = UniqueVariable();
        var json = ConfigJson.Patch($$"""
            {
              "accounts.old": { "password": "env:{{oldVariable}}" },
              "accounts.new": { "password": "file:secrets/dst" },
              "accounts": { "unused": { "protocol": "imap", "host": "localhost", "security": "none", "user": "x", "password": "env:{{UniqueVariable()}}" } }
            }
            """);
        var config = ConfigLoader.Parse(json, Path.Combine(directory.Path, "job.json")).Config!;

        var errors = ConfigLoader.CheckSecrets(config, config.Jobs);

        Assert.Equal(["accounts.old.password", "accounts.new.password"], errors.Select(e => e.Location));
        Assert.Contains(oldVariable, errors[0].Message, StringComparison.Ordinal);
        Assert.Contains(Path.Combine(directory.Path, "secrets", "dst"), errors[1].Message, StringComparison.Ordinal);

        Directory.CreateDirectory(Path.Combine(directory.Path, "secrets"));
        File.WriteAllText(Path.Combine(directory.Path, "secrets", "dst"), "pw\n");
        Environment.SetEnvironmentVariable(oldVariable, "Very-Secret-Value");
        try
        {
            Assert.Empty(ConfigLoader.CheckSecrets(config, config.Jobs));
            Assert.Empty(ConfigLoader.CheckSecrets(config, []));
        }
        finally
        {
            Environment.SetEnvironmentVariable(oldVariable, null);
        }
    }

    [Fact]
    public void CheckSecrets_reports_an_unreadable_oauth2_token_at_its_own_location()
    {
        var tokenVariable = UniqueVariable();
        var json = ConfigJson.Patch($$"""{ "accounts.old": { "password": null, "oauth2Token": "env:{{tokenVariable}}" } }""");
        var config = ConfigLoader.Parse(json).Config!;

        var errors = ConfigLoader.CheckSecrets(config, config.Jobs);

        var error = Assert.Single(errors, e => e.Location.StartsWith("accounts.old", StringComparison.Ordinal));
        Assert.Equal("accounts.old.oauth2Token", error.Location);
        Assert.Contains(tokenVariable, error.Message, StringComparison.Ordinal);
    }

    // Environment variables are process-wide and tests run in parallel: never share a name.
    private static string UniqueVariable() => $"MAILSYNC_TEST_{Guid.NewGuid():N}";
}
