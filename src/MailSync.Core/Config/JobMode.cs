namespace MailSync.Core.Config;

/// <summary>What a job does. JSON: "migrate". Kept an enum so later modes (e.g. "sync") slot in.</summary>
public enum JobMode
{
    Migrate,
}
