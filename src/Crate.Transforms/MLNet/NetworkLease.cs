using Crate.Transforms.Network;

namespace Crate.Transforms.MLNet;

/// <summary>
/// A counted reference to a network. Transformers hold one each; a network that Crate.MLNet loaded or copied is
/// disposed when its last lease is, and a network the caller passed in is never disposed (it stays the caller's).
/// </summary>
internal sealed class NetworkLease : IDisposable
{
    private readonly Shared shared;
    private bool released;

    private NetworkLease(Shared shared) => this.shared = shared;

    /// <summary>The network; throws once this lease is disposed.</summary>
    public CrateModel Model
    {
        get
        {
            ObjectDisposedException.ThrowIf(released, this);
            return shared.Model;
        }
    }

    /// <summary>A first lease on a network that belongs to the leases: the last one disposed disposes it.</summary>
    public static NetworkLease Own(CrateModel model) => new(new Shared(ArgumentNullExceptionOr(model), owned: true));

    /// <summary>A lease on a network that stays its owner's: disposing leases never disposes it.</summary>
    public static NetworkLease Borrow(CrateModel model) => new(new Shared(ArgumentNullExceptionOr(model), owned: false));

    /// <summary>Another lease on the same network, which lives at least as long as this one.</summary>
    public NetworkLease Share()
    {
        ObjectDisposedException.ThrowIf(released, this);
        shared.Acquire();
        return new NetworkLease(shared);
    }

    /// <summary>Releases this lease; disposes an owned network when it was the last.</summary>
    public void Dispose()
    {
        if (released) return;
        released = true;
        shared.Release();
    }

    private static CrateModel ArgumentNullExceptionOr(CrateModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model;
    }

    private sealed class Shared(CrateModel model, bool owned)
    {
        private readonly object gate = new();
        private int leases = 1;

        public CrateModel Model { get; } = model;

        public void Acquire()
        {
            lock (gate)
            {
                if (leases == 0) throw new ObjectDisposedException(nameof(CrateModel), "The network was already disposed with its last holder.");
                leases++;
            }
        }

        public void Release()
        {
            lock (gate)
            {
                if (--leases > 0 || !owned) return;
            }
            Model.Dispose();
        }
    }
}
