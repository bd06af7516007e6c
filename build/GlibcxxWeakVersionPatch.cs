// MSBuild inline task (RoslynCodeTaskFactory) that lets TorchSharp's native library load on Linux
// distributions whose libstdc++ predates GCC 13. See build/README.md for the why.
// MSBuild compiles this file against netstandard2.0, so it keeps to that API surface.
// The one implementation of the ELF patch: Crate.Transforms compiles the same file with CRATE_NATIVE_RUNTIME defined
// (no MSBuild task, the patch internal to the library, in a namespace of its own so that a project that links this
// file and references Crate.Transforms sees two distinct types) for CrateNativeRuntime, the fix at run time.
#nullable enable
using System;
using System.IO;
using System.Text;
#if !CRATE_NATIVE_RUNTIME
using Microsoft.Build.Framework;
using Microsoft.Build.Utilities;
#endif

#if CRATE_NATIVE_RUNTIME
namespace Crate.Transforms.NativeRuntime
#else
namespace Crate.Build
#endif
{
#if !CRATE_NATIVE_RUNTIME
    /// <summary>
    /// Marks the GLIBCXX_3.4.32 version requirement of libLibTorchSharp.so weak, so the dynamic loader
    /// accepts a libstdc++ that lacks it. The only symbol bound to that version is
    /// std::ios_base_library_init, a link anchor that is never called, so a weak requirement is safe.
    /// </summary>
    public sealed class CrateMarkGlibcxxVersionWeak : Microsoft.Build.Utilities.Task
    {
        [Required]
        public ITaskItem[] Files { get; set; } = Array.Empty<ITaskItem>();

        public override bool Execute()
        {
            string? systemLibrary = GlibcxxWeakVersionPatch.FindSystemLibstdcxx();
            if (systemLibrary != null && GlibcxxWeakVersionPatch.LibraryDefinesVersion(systemLibrary))
            {
                Log.LogMessage(MessageImportance.Low,
                    $"{systemLibrary} defines {GlibcxxWeakVersionPatch.VersionName}; TorchSharp's native library is left as shipped.");
                return true;
            }
            foreach (ITaskItem item in Files)
            {
                string path = item.ItemSpec;
                if (GlibcxxWeakVersionPatch.MarkWeak(path))
                    Log.LogMessage(MessageImportance.Normal,
                        $"Marked {GlibcxxWeakVersionPatch.VersionName} weak in {path} (system libstdc++ lacks it).");
            }
            return true;
        }
    }
#endif

    /// <summary>ELF64 little-endian edits of the .gnu.version_r section (the version-needs table).</summary>
#if CRATE_NATIVE_RUNTIME
    internal
#else
    public
#endif
    static class GlibcxxWeakVersionPatch
    {
        public const string VersionName = "GLIBCXX_3.4.32";
        private const uint SectionTypeGnuVersionNeed = 0x6ffffffe; // SHT_GNU_verneed
        private const ushort VersionFlagWeak = 0x2;                // VER_FLG_WEAK

        /// <summary>
        /// File offset of the vna_flags field of the version-need entry named <paramref name="versionName"/>,
        /// or -1 when the file is not a little-endian ELF64 object or has no such entry.
        /// </summary>
        public static long FindVersionNeedFlagsOffset(byte[] elf, string versionName)
        {
            if (elf.Length < 64 || elf[0] != 0x7f || elf[1] != (byte)'E' || elf[2] != (byte)'L' || elf[3] != (byte)'F')
                return -1;
            if (elf[4] != 2 || elf[5] != 1) // ELFCLASS64, ELFDATA2LSB
                return -1;
            long sectionHeaders = (long)BitConverter.ToUInt64(elf, 0x28);
            int sectionHeaderSize = BitConverter.ToUInt16(elf, 0x3A);
            int sectionCount = BitConverter.ToUInt16(elf, 0x3C);
            for (int s = 0; s < sectionCount; s++)
            {
                long header = sectionHeaders + (long)s * sectionHeaderSize;
                if (header + 64 > elf.Length || BitConverter.ToUInt32(elf, (int)header + 4) != SectionTypeGnuVersionNeed)
                    continue;
                long table = (long)BitConverter.ToUInt64(elf, (int)header + 0x18);
                int stringSection = (int)BitConverter.ToUInt32(elf, (int)header + 0x28);
                int needCount = (int)BitConverter.ToUInt32(elf, (int)header + 0x2C);
                long strings = (long)BitConverter.ToUInt64(elf, (int)(sectionHeaders + (long)stringSection * sectionHeaderSize + 0x18));
                long need = table;
                for (int n = 0; n < needCount; n++)
                {
                    int auxCount = BitConverter.ToUInt16(elf, (int)need + 2);
                    long aux = need + BitConverter.ToUInt32(elf, (int)need + 8);
                    for (int a = 0; a < auxCount; a++)
                    {
                        long name = strings + BitConverter.ToUInt32(elf, (int)aux + 8);
                        if (NameAt(elf, name) == versionName)
                            return aux + 4;
                        aux += BitConverter.ToUInt32(elf, (int)aux + 12);
                    }
                    need += BitConverter.ToUInt32(elf, (int)need + 12);
                }
            }
            return -1;
        }

        /// <summary>
        /// True when the file requires <paramref name="versionName"/> and that requirement is not weak: the dynamic loader
        /// refuses the file where the version is missing. False for a patched file and for one without the entry.
        /// </summary>
        public static bool HasStrongRequirement(string path, string versionName = VersionName)
        {
            byte[] elf = File.ReadAllBytes(path);
            long flags = FindVersionNeedFlagsOffset(elf, versionName);
            return flags >= 0 && (BitConverter.ToUInt16(elf, (int)flags) & VersionFlagWeak) == 0;
        }

        /// <summary>Sets VER_FLG_WEAK on the entry, rewriting the file through a temporary copy; false when nothing changed.</summary>
        public static bool MarkWeak(string path, string versionName = VersionName)
        {
            byte[] elf = File.ReadAllBytes(path);
            long flags = FindVersionNeedFlagsOffset(elf, versionName);
            if (flags < 0)
                return false;
            ushort value = BitConverter.ToUInt16(elf, (int)flags);
            if ((value & VersionFlagWeak) != 0)
                return false;
            value |= VersionFlagWeak;
            elf[flags] = (byte)value;
            elf[flags + 1] = (byte)(value >> 8);
            // A fresh file rather than an in-place write: the output may be a hard link into the package cache.
            string temporary = path + ".crate-patch";
            File.WriteAllBytes(temporary, elf);
            File.Delete(path);
            File.Move(temporary, path);
            return true;
        }

        /// <summary>The libstdc++.so.6 the dynamic loader would pick first from LD_LIBRARY_PATH and the usual directories.</summary>
        public static string? FindSystemLibstdcxx()
        {
            string[] searched = (Environment.GetEnvironmentVariable("LD_LIBRARY_PATH") ?? "")
                .Split(new[] { ':' }, StringSplitOptions.RemoveEmptyEntries);
            string[] standard =
            {
                "/lib/x86_64-linux-gnu", "/usr/lib/x86_64-linux-gnu", "/lib/aarch64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/lib64", "/usr/lib64", "/lib", "/usr/lib",
            };
            foreach (string directory in searched)
            {
                string candidate = Path.Combine(directory, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            foreach (string directory in standard)
            {
                string candidate = Path.Combine(directory, "libstdc++.so.6");
                if (File.Exists(candidate)) return candidate;
            }
            return null;
        }

        /// <summary>True when the library's version names include <paramref name="versionName"/>.</summary>
        public static bool LibraryDefinesVersion(string libraryPath, string versionName = VersionName)
        {
            byte[] library = File.ReadAllBytes(libraryPath);
            byte[] needle = Encoding.ASCII.GetBytes("\0" + versionName + "\0");
            for (int start = 0; start + needle.Length <= library.Length; start++)
            {
                int matched = 0;
                while (matched < needle.Length && library[start + matched] == needle[matched]) matched++;
                if (matched == needle.Length) return true;
            }
            return false;
        }

        private static string NameAt(byte[] elf, long offset)
        {
            int end = (int)offset;
            while (end < elf.Length && elf[end] != 0) end++;
            return Encoding.ASCII.GetString(elf, (int)offset, end - (int)offset);
        }
    }
}
