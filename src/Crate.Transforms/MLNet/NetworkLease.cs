using System.Runtime.CompilerServices;
using Crate.Transforms.Network;
using static TorchSharp.torch;

namespace Crate.Transforms.MLNet;

/// <summary>
/// A counted reference to a network. Transformers hold one each; a network that Crate.MLNet loaded or copied is
/// disposed when its last lease is, and a network the caller passed in is never disposed (it stays the caller's).
/// A network placed on another device or in another precision (<see cref="Place"/>) is copied once per (network,
/// device, precision) and that copy is shared by every lease placed so while any of them lives: a pipeline whose
/// classifier and MaskCut run one network on a GPU holds one copy of it there, not two.
/// </summary>
internal sealed class NetworkLease : IDisposable
{
    /// <summary>The placed copies alive, by source network, device and element type; also the lock of their counts.</summary>
    private static readonly Dictionary<Placement, Shared> Placed = new();

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

    /// <summary>
    /// A lease on this network on <paramref name="device"/> in <paramref name="elementType"/>: on the network itself
    /// when it is there already, else on the one copy there, made now if no lease holds one. A copy is a snapshot of
    /// the weights when it is made: leases placed while it lives share it, so a network that is changed afterwards
    /// (one still being trained) reaches the device again only once every lease on the old copy is disposed.
    /// </summary>
    public NetworkLease Place(Device device, ScalarType elementType)
    {
        ObjectDisposedException.ThrowIf(released, this);
        CrateModel source = shared.Model;
        if (ComputeDeviceSelector.SameDevice(source.Device, device) && source.ElementType == elementType)
            return Share();
        var key = new Placement(source, device.type, Math.Max(device.index, 0), elementType);
        lock (Placed)
        {
            if (Placed.TryGetValue(key, out Shared? copy))
            {
                copy.Acquire();
                return new NetworkLease(copy);
            }
            // Copying under the lock keeps a second placement of the same network from making a second copy.
            copy = new Shared(source.Copy(device, elementType), owned: true, placement: key);
            Placed.Add(key, copy);
            return new NetworkLease(copy);
        }
    }

    /// <summary>How many placed copies are alive (for tests).</summary>
    internal static int PlacedCopies
    {
        get
        {
            lock (Placed) return Placed.Count;
        }
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

    /// <summary>A placed copy's key: the source network by identity, the device and the element type.</summary>
    private readonly record struct Placement(CrateModel Source, TorchSharp.DeviceType Type, int Index, ScalarType ElementType)
    {
        public bool Equals(Placement other) =>
            ReferenceEquals(Source, other.Source) && Type == other.Type && Index == other.Index && ElementType == other.ElementType;

        public override int GetHashCode() => HashCode.Combine(RuntimeHelpers.GetHashCode(Source), Type, Index, ElementType);
    }

    private sealed class Shared(CrateModel model, bool owned, Placement? placement = null)
    {
        // A placed copy counts its leases under the registry's lock, so that it leaves the registry and a new
        // placement finds it there, or not, atomically.
        private readonly object gate = placement is null ? new object() : Placed;
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
                if (placement is Placement key) Placed.Remove(key);
            }
            Model.Dispose();
        }
    }
}
