using MailSync.Core.Config;
using MailSync.Tests.Infrastructure;

namespace MailSync.Tests.Support;

/// <summary>Writes a job file (and its password files) for test users on test servers, in a temp folder.</summary>
public sealed class JobFile : IDisposable
{
    private JobFile(string directory, string path)
    {
        Directory = directory;
        Path = path;
    }

    public string Directory { get; }
    public string Path { get; }
    public string StatePath => System.IO.Path.Combine(Directory, "state.db");

    public static JobFile Create(IImapTestServer sourceServer, TestUser source, IImapTestServer targetServer, TestUser target, string jobExtras = "")
    {
        return Write(source, target, $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "{{sourceServer.Host}}", "port": {{sourceServer.ImapPort}}, "security": "none", "user": "{{source.Name}}", "password": "file:src.secret" },
                "dst": { "protocol": "imap", "host": "{{targetServer.Host}}", "port": {{targetServer.ImapPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret" }
              },
              "jobs": [ { "name": "test", "mode": "migrate", "source": "src", "target": "dst"{{jobExtras}} } ]
            }
            """);
    }

    /// <summary>A two-way sync job ("mode": "sync") between accounts "src" (side A) and "dst" (side B).</summary>
    /// <param name="jobExtras">JSON members added to the job, each starting with a comma.</param>
    public static JobFile CreateSync(IImapTestServer serverA, TestUser a, IImapTestServer serverB, TestUser b, string jobExtras = "")
        => Write(a, b, $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "{{serverA.Host}}", "port": {{serverA.ImapPort}}, "security": "none", "user": "{{a.Name}}", "password": "file:src.secret" },
                "dst": { "protocol": "imap", "host": "{{serverB.Host}}", "port": {{serverB.ImapPort}}, "security": "none", "user": "{{b.Name}}", "password": "file:dst.secret" }
              },
              "jobs": [ { "name": "test", "mode": "sync", "source": "src", "target": "dst"{{jobExtras}} } ]
            }
            """);

    /// <summary>
    /// A job file with a POP3 source account "pop" (plain POP3 on loopback unless
    /// <paramref name="popAccount"/> says otherwise) and the IMAP target "dst".
    /// </summary>
    /// <param name="popAccount">JSON members for the POP3 account after "user"/"password", e.g. a port, security and pin.</param>
    /// <param name="jobExtras">JSON members added to the job, each starting with a comma.</param>
    public static JobFile CreatePop3(
        DovecotServer popServer, TestUser source, DovecotServer targetServer, TestUser target, string jobExtras = "", string? popAccount = null)
    {
        popAccount ??= $"\"port\": {popServer.Pop3Port}, \"security\": \"none\"";
        return Write(source, target, $$"""
            {
              "accounts": {
                "pop": { "protocol": "pop3", "host": "127.0.0.1", "user": "{{source.Name}}", "password": "file:src.secret", {{popAccount}} },
                "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{targetServer.ImapPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret" }
              },
              "jobs": [ { "name": "pop", "mode": "migrate", "source": "pop", "target": "dst"{{jobExtras}} } ]
            }
            """);
    }

    /// <summary>Writes <paramref name="json"/> as the job file, with the two users' passwords in src.secret and dst.secret.</summary>
    public static JobFile Write(TestUser source, TestUser target, string json)
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("mailsync-job-").FullName;
        File.WriteAllText(System.IO.Path.Combine(dir, "src.secret"), source.Password);
        File.WriteAllText(System.IO.Path.Combine(dir, "dst.secret"), target.Password);
        var path = System.IO.Path.Combine(dir, "jobs.json");
        File.WriteAllText(path, json);
        return new JobFile(dir, path);
    }

    public MailSyncConfig Load()
    {
        var result = ConfigLoader.Load(Path);
        Assert.True(result.IsValid, string.Join("\n", result.Errors));
        return result.Config!;
    }

    /// <summary>Runs the file's only job in-process (with default options unless given) and returns its result.</summary>
    public async Task<MailSync.Core.Jobs.JobResult> RunAsync(MailSync.Core.Sync.MigrationOptions? options = null)
    {
        var config = Load();
        var runner = new MailSync.Core.Jobs.JobRunner(Serilog.Core.Logger.None, MailSync.Core.Jobs.NullMigrationObserver.Instance);
        return Assert.Single(await runner.RunAsync(config, config.Jobs, StatePath, options ?? new MailSync.Core.Sync.MigrationOptions(), CancellationToken.None));
    }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
