using System.Runtime.InteropServices;

namespace MailSync.Tests.Infrastructure;

/// <summary>
/// libc calls .NET has no API for: a graceful SIGTERM (Process.Kill is SIGKILL, which would
/// orphan Dovecot's children) and chown (mail must be owned by the unprivileged mail uid).
/// </summary>
internal static partial class NativeMethods
{
    internal const int SIGTERM = 15;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    internal static partial int Kill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int Chown(string path, int owner, int group);
}
