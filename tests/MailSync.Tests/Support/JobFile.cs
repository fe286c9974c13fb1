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

    public static JobFile Create(DovecotServer sourceServer, TestUser source, DovecotServer targetServer, TestUser target, string jobExtras = "")
    {
        var dir = System.IO.Directory.CreateTempSubdirectory("mailsync-job-").FullName;
        File.WriteAllText(System.IO.Path.Combine(dir, "src.secret"), source.Password);
        File.WriteAllText(System.IO.Path.Combine(dir, "dst.secret"), target.Password);
        var json = $$"""
            {
              "accounts": {
                "src": { "protocol": "imap", "host": "127.0.0.1", "port": {{sourceServer.ImapPort}}, "security": "none", "user": "{{source.Name}}", "password": "file:src.secret" },
                "dst": { "protocol": "imap", "host": "127.0.0.1", "port": {{targetServer.ImapPort}}, "security": "none", "user": "{{target.Name}}", "password": "file:dst.secret" }
              },
              "jobs": [ { "name": "test", "mode": "migrate", "source": "src", "target": "dst"{{jobExtras}} } ]
            }
            """;
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
