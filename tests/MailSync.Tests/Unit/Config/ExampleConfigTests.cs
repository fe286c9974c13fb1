using MailSync.Core.Config;

namespace MailSync.Tests.Unit.Config;

/// <summary>The shipped job files are documentation: they must stay valid as the format evolves.</summary>
public sealed class ExampleConfigTests
{
    public static TheoryData<string> ExampleFiles() => new(ExampleFilePaths());

    [Theory]
    [MemberData(nameof(ExampleFiles))]
    public void Example_file_is_valid(string relativePath)
    {
        var result = ConfigLoader.Load(Path.Combine(RepositoryRoot(), relativePath));

        Assert.True(result.IsValid, string.Join("\n", result.Errors));
    }

    [Fact]
    public void The_documented_examples_exist()
    {
        var files = ExampleFilePaths().ToList();

        Assert.Contains(Path.Combine("configs", "imap-to-imap.json"), files);
        Assert.Contains(Path.Combine("configs", "gmail-to-dovecot.json"), files);
        Assert.Contains(Path.Combine("configs", "office365-to-imap.json"), files);
        Assert.Contains(Path.Combine("configs", "pop3-to-imap.json"), files);
        Assert.Contains(Path.Combine("configs", "two-way-sync.json"), files);
    }

    [Fact]
    public void The_pop3_example_fills_one_folder_and_keeps_the_source()
    {
        var config = ConfigLoader.Load(Path.Combine(RepositoryRoot(), "configs", "pop3-to-imap.json")).Config!;

        var job = Assert.Single(config.Jobs);
        var source = config.Accounts[job.Source];
        Assert.Equal(Protocol.Pop3, source.Protocol);
        Assert.Equal(995, source.Port);
        Assert.Equal(new SecretRef("env", "POP_PASSWORD"), source.Password);
        Assert.Equal(Protocol.Imap, config.Accounts[job.Target].Protocol);
        Assert.Equal("Archive/Old POP", job.TargetFolder);
        Assert.Equal(["\\Seen"], job.TargetFlags);
        Assert.False(job.DeleteFromSource);
    }

    [Fact]
    public void Samples_read_their_passwords_from_the_demo_directory_next_to_the_file()
    {
        var root = RepositoryRoot();

        var config = ConfigLoader.Load(Path.Combine(root, "samples.json")).Config!;

        Assert.Equal(["alice", "bob", "carol"], config.Jobs.Select(j => j.Name));
        Assert.Equal("Migrated", config.Jobs[1].TargetPrefix);
        // The quick start's POP3 job.
        Assert.Equal(Protocol.Pop3, config.Accounts[config.Jobs[2].Source].Protocol);
        Assert.Equal("Old POP mail", config.Jobs[2].TargetFolder);
        Assert.False(config.Jobs[2].DeleteFromSource);
        Assert.All(config.Accounts.Values, a => Assert.Equal(
            new SecretRef("file", Path.Combine(root, ".demo", "secrets", a.User)), a.Password));
    }

    private static IEnumerable<string> ExampleFilePaths()
    {
        var root = RepositoryRoot();
        return Directory.GetFiles(Path.Combine(root, "configs"), "*.json")
            .Select(path => Path.GetRelativePath(root, path))
            .Order(StringComparer.Ordinal)
            .Append("samples.json");
    }

    private static string RepositoryRoot()
    {
        for (var directory = new DirectoryInfo(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "MailSync.sln")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException($"no MailSync.sln above {AppContext.BaseDirectory}");
    }
}
