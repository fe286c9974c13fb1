using System.Net;

namespace MailSync.Core.Stores.Pop3;

/// <summary>
/// Credentials that MailKit's POP3 login gets only for one method: it asks for "APOP", then each
/// SASL name, then "DEFAULT" (USER/PASS), so answering just one forces that method and no other
/// (no silent fall-back to sending the password another way).
/// </summary>
internal sealed class SingleMethodCredentials(string method, NetworkCredential credential) : ICredentials
{
    public NetworkCredential? GetCredential(Uri uri, string authType)
        => string.Equals(authType, method, StringComparison.OrdinalIgnoreCase) ? credential : null;
}
