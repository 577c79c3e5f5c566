# What the emulated account offers: its pool allocation mode, the VM sizes and images it may use, and
# whether Spot capacity can be had. Set through the control endpoint (POST /_emulator/account, see
# control_api.py); the defaults are real sizes and images (docs/azure-facts.md section 7).
#
# The data plane lists images (Pools_ListSupportedImages) but not VM sizes; the sizes are the
# emulator's own record of what the region lets the account allocate, with their GPU counts, so that
# pools of sizes it does not offer are refused and GPU run options can be judged.
import copy
from dataclasses import dataclass

BATCH_SERVICE, USER_SUBSCRIPTION = "batchService", "userSubscription"
SPOT_STATES = ("available", "noCapacity", "noQuota")
# What a pool of a VM size the account does not offer gets: refused when it is created (an auto pool's job
# completes with a scheduling error), or created and left without nodes, showing the resize error the SDK's
# PoolResizeErrorCodes name. Which one the service does is not established (docs/azure-facts.md section 7).
REFUSED_AT_CREATION, RESIZE_ERROR = "refusedAtCreation", "resizeError"
UNOFFERED_VM_SIZE_OUTCOMES = (REFUSED_AT_CREATION, RESIZE_ERROR)
# Microsoft.Azure.Batch PoolResizeErrorCodes.UnsupportedVMSize and its description.
UNSUPPORTED_VM_SIZE_ERROR = {"code": "UnsupportedVMSize", "message": "Requested VM size is not supported"}


@dataclass(frozen=True)
class VmSize:
    name: str
    vcpus: int
    gpus: int

    def describe(self):
        return {"name": self.name, "vCPUs": self.vcpus, "gpus": self.gpus}


# Sizes and their vCPU and GPU counts: learn.microsoft.com/azure/virtual-machines/sizes
# (Dsv3, NCv3: one V100 per 6 vCPUs, NCasT4_v3: one T4 per 4 vCPUs up to 16, NC A100 v4).
DEFAULT_VM_SIZES = (VmSize("Standard_D2s_v3", 2, 0), VmSize("Standard_D4s_v3", 4, 0),
                    VmSize("Standard_D8s_v3", 8, 0), VmSize("Standard_NC6s_v3", 6, 1),
                    VmSize("Standard_NC12s_v3", 12, 2), VmSize("Standard_NC4as_T4_v3", 4, 1),
                    VmSize("Standard_NC24ads_A100_v4", 24, 1))


def _image(publisher, offer, sku, node_agent, capabilities, end_of_life=None):
    image = {"nodeAgentSKUId": node_agent,
             "imageReference": {"publisher": publisher, "offer": offer, "sku": sku, "version": "latest"},
             "osType": "linux", "capabilities": list(capabilities), "verificationType": "verified"}
    if end_of_life:
        image["batchSupportEndOfLife"] = end_of_life
    return image


# The images the offloader uses (microsoft-dsvm ubuntu-hpc; the 22.04 node agent ends 2027-06-30,
# Azure/Batch#200) and Canonical's 24.04 server image with its agent (learn batch-spot-vms example).
# Capability names are the service's (spec example AccountListSupportedImages.json); which images
# carry which is the emulator's choice (not documented per image).
DEFAULT_IMAGES = (
    _image("microsoft-dsvm", "ubuntu-hpc", "2204", "batch.node.ubuntu 22.04",
           ("DockerCompatible", "NvidiaTeslaDriverInstalled"), "2027-06-30T00:00:00Z"),
    _image("microsoft-dsvm", "ubuntu-hpc", "2404", "batch.node.ubuntu 24.04",
           ("DockerCompatible", "NvidiaTeslaDriverInstalled")),
    _image("canonical", "ubuntu-24_04-lts", "server", "batch.node.ubuntu 24.04", ()),
)


def _image_key(reference):
    return tuple(str(reference.get(part, "")).casefold() for part in ("publisher", "offer", "sku"))


class AccountOffer:
    def __init__(self, pool_allocation_mode=BATCH_SERVICE, vm_sizes=DEFAULT_VM_SIZES, images=DEFAULT_IMAGES,
                 spot="available", unoffered_vm_size=REFUSED_AT_CREATION):
        self.pool_allocation_mode = pool_allocation_mode
        self.vm_sizes = {size.name.casefold(): size for size in vm_sizes}
        self.images = [copy.deepcopy(image) for image in images]
        self.spot = spot
        self.unoffered_vm_size = unoffered_vm_size

    def vm_size(self, name):
        """The offered VmSize of that name (case-insensitive, as the service compares them), or None."""
        return self.vm_sizes.get(name.casefold())

    def image_for(self, image_reference):
        """The supported image a Marketplace imageReference names, or None (version is not compared)."""
        key = _image_key(image_reference)
        return next((image for image in self.images if _image_key(image["imageReference"]) == key), None)

    def describe(self):
        return {"poolAllocationMode": self.pool_allocation_mode,
                "vmSizes": [size.describe() for size in self.vm_sizes.values()],
                "images": copy.deepcopy(self.images), "spot": self.spot,
                "unofferedVmSize": self.unoffered_vm_size}

    def updated(self, document, check_image):
        """A new offer with the fields of document (POST /_emulator/account) replaced; raises ValueError.
        check_image(image) raises ValueError when an image is not a BatchSupportedImage."""
        if not isinstance(document, dict):
            raise ValueError("the account takes a JSON object")
        unknown = set(document) - {"poolAllocationMode", "vmSizes", "images", "spot", "unofferedVmSize"}
        if unknown:
            raise ValueError(f"unknown account field(s): {', '.join(sorted(unknown))}")
        mode = document.get("poolAllocationMode", self.pool_allocation_mode)
        if mode not in (BATCH_SERVICE, USER_SUBSCRIPTION):
            raise ValueError(f"poolAllocationMode is {BATCH_SERVICE} or {USER_SUBSCRIPTION}")
        spot = document.get("spot", self.spot)
        if spot not in SPOT_STATES:
            raise ValueError(f"spot is one of {', '.join(SPOT_STATES)}")
        unoffered = document.get("unofferedVmSize", self.unoffered_vm_size)
        if unoffered not in UNOFFERED_VM_SIZE_OUTCOMES:
            raise ValueError(f"unofferedVmSize is one of {', '.join(UNOFFERED_VM_SIZE_OUTCOMES)}")
        sizes = list(self.vm_sizes.values())
        if "vmSizes" in document:
            sizes = [_parse_vm_size(entry) for entry in _list(document["vmSizes"], "vmSizes")]
        images = self.images
        if "images" in document:
            images = _list(document["images"], "images")
            for image in images:
                check_image(image)
        return AccountOffer(mode, sizes, images, spot, unoffered)


def _list(value, name):
    if not isinstance(value, list):
        raise ValueError(f"{name} is a list")
    return value


def _parse_vm_size(entry):
    if not isinstance(entry, dict) or set(entry) - {"name", "vCPUs", "gpus"} or not isinstance(entry.get("name"), str):
        raise ValueError("a VM size is {\"name\": ..., \"vCPUs\": N, \"gpus\": N}")
    counts = [entry.get(key, 0) for key in ("vCPUs", "gpus")]
    if any(isinstance(count, bool) or not isinstance(count, int) or count < 0 for count in counts):
        raise ValueError("vCPUs and gpus are whole numbers >= 0")
    return VmSize(entry["name"], *counts)


# What a pool that asks for Spot nodes shows when the account cannot have them (docs/azure-facts.md
# section 7). Codes: Microsoft.Azure.Batch PoolResizeErrorCodes and the Batch pool resizing failure
# article; the messages follow the documented dedicated-node ones ("Desired number of dedicated nodes
# could not be allocated [as the resize timeout was reached]") with the node kind changed (guess).
_NO_SPOT_CAPACITY = {"code": "AllocationTimedout",
                     "message": "Desired number of low priority nodes could not be allocated as the resize "
                                "timeout was reached"}
_NO_SPOT_ACCOUNT_QUOTA = {"code": "AccountLowPriorityCoreQuotaReached",
                          "message": "The specified account has reached low priority core quota"}
# User subscription mode: the subscription's regional Spot vCPU quota (Compute's lowPriorityCores)
# refuses the VMs, and Batch passes Compute's error on as a value (the article's "Provider Error Json").
_NO_SPOT_SUBSCRIPTION_QUOTA = {
    "code": "AllocationFailed", "message": "Desired number of low priority nodes could not be allocated",
    "values": [{"name": "Provider Error Json",
                "value": '{"error": {"code": "OperationNotAllowed", "message": "Operation could not be '
                         'completed as it results in exceeding approved LowPriorityCores quota."}}'}]}


def spot_resize_errors(offer):
    """The resizeErrors of a pool that wants Spot nodes under this offer ([] when Spot can be had)."""
    if offer.spot == "available":
        return []
    if offer.spot == "noCapacity":
        return [copy.deepcopy(_NO_SPOT_CAPACITY)]
    quota = _NO_SPOT_ACCOUNT_QUOTA if offer.pool_allocation_mode == BATCH_SERVICE else _NO_SPOT_SUBSCRIPTION_QUOTA
    return [copy.deepcopy(quota)]
