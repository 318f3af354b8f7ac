"""Porting tests: training scripts written the way public PyTorch programs are written (our own
code, modelled on their idioms), run with only the imports changed:

    import tinytensor as torch
    import tinytensor.nn as nn
    import tinytensor.nn.functional as F

1. the official MNIST example's shape: a conv/dropout/fc Net, train()/test() functions, argparse
   arguments, device boilerplate, Adadelta + StepLR, log_softmax + nll_loss, saving the
   state_dict;
2. the CIFAR-10 tutorial's shape: a small Net, SGD with momentum, running_loss printing,
   per-class accuracy with torch.max(outputs, 1) under torch.no_grad();
3. a torchvision-style ResNet (BasicBlock, kaiming_normal_ init loop) with a training loop that
   checkpoints model, optimizer and scheduler state, epoch and best_acc1, resumes from the
   checkpoint, and reports accuracy(output, target, topk=(1, 5)).

Random data of the right shapes, a few steps each.
"""
import argparse
import os

import numpy as np
import pytest

import tinytensor as torch
import tinytensor.nn as nn
import tinytensor.nn.functional as F
import tinytensor.optim as optim
from tinytensor.utils.data import DataLoader, TensorDataset


def _random_images(n, c, h, w, classes, seed):
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, c, h, w)).astype(np.float32)
    y = g.integers(0, classes, n)
    return TensorDataset(torch.from_numpy(x), torch.from_numpy(y))


# ------------------------------------------------------------------------------ 1. MNIST example

class MnistNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(1, 32, 3, 1)
        self.conv2 = nn.Conv2d(32, 64, 3, 1)
        self.dropout1 = nn.Dropout(0.25)
        self.dropout2 = nn.Dropout(0.5)
        self.fc1 = nn.Linear(9216, 128)
        self.fc2 = nn.Linear(128, 10)

    def forward(self, x):
        x = self.conv1(x)
        x = F.relu(x)
        x = self.conv2(x)
        x = F.relu(x)
        x = F.max_pool2d(x, 2)
        x = self.dropout1(x)
        x = torch.flatten(x, 1)
        x = self.fc1(x)
        x = F.relu(x)
        x = self.dropout2(x)
        x = self.fc2(x)
        return F.log_softmax(x, dim=1)


def mnist_train(args, model, device, train_loader, optimizer, epoch):
    model.train()
    for batch_idx, (data, target) in enumerate(train_loader):
        data, target = data.to(device), target.to(device)
        optimizer.zero_grad()
        output = model(data)
        loss = F.nll_loss(output, target)
        loss.backward()
        optimizer.step()
        if batch_idx % args.log_interval == 0:
            print("Train Epoch: {} [{}/{} ({:.0f}%)]\tLoss: {:.6f}".format(
                epoch, batch_idx * len(data), len(train_loader.dataset),
                100. * batch_idx / len(train_loader), loss.item()))
            if args.dry_run:
                break


def mnist_test(model, device, test_loader):
    model.eval()
    test_loss = 0
    correct = 0
    with torch.no_grad():
        for data, target in test_loader:
            data, target = data.to(device), target.to(device)
            output = model(data)
            test_loss += F.nll_loss(output, target, reduction="sum").item()
            pred = output.argmax(dim=1, keepdim=True)
            correct += pred.eq(target.view_as(pred)).sum().item()
    test_loss /= len(test_loader.dataset)
    print("\nTest set: Average loss: {:.4f}, Accuracy: {}/{} ({:.0f}%)\n".format(
        test_loss, correct, len(test_loader.dataset), 100. * correct / len(test_loader.dataset)))
    return test_loss


def mnist_main(argv, save_dir):
    parser = argparse.ArgumentParser(description="PyTorch MNIST Example")
    parser.add_argument("--batch-size", type=int, default=64, metavar="N")
    parser.add_argument("--test-batch-size", type=int, default=1000, metavar="N")
    parser.add_argument("--epochs", type=int, default=14, metavar="N")
    parser.add_argument("--lr", type=float, default=1.0, metavar="LR")
    parser.add_argument("--gamma", type=float, default=0.7, metavar="M")
    parser.add_argument("--no-accel", action="store_true")
    parser.add_argument("--no-cuda", action="store_true", default=False)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--seed", type=int, default=1, metavar="S")
    parser.add_argument("--log-interval", type=int, default=10, metavar="N")
    parser.add_argument("--save-model", action="store_true")
    args = parser.parse_args(argv)

    use_accel = not args.no_accel and torch.accelerator.is_available()
    use_cuda = not args.no_cuda and torch.cuda.is_available()
    torch.manual_seed(args.seed)
    if use_accel:
        device = torch.accelerator.current_accelerator()
    elif use_cuda:
        device = torch.device("cuda")
    else:
        device = torch.device("cpu")

    train_kwargs = {"batch_size": args.batch_size}
    test_kwargs = {"batch_size": args.test_batch_size}
    if use_cuda or use_accel:
        accel_kwargs = {"num_workers": 1, "pin_memory": True, "shuffle": True}
        train_kwargs.update(accel_kwargs)
        test_kwargs.update(accel_kwargs)

    dataset1 = _random_images(16, 1, 28, 28, 10, seed=0)
    dataset2 = _random_images(8, 1, 28, 28, 10, seed=1)
    train_loader = DataLoader(dataset1, **train_kwargs)
    test_loader = DataLoader(dataset2, **test_kwargs)

    model = MnistNet().to(device)
    optimizer = optim.Adadelta(model.parameters(), lr=args.lr)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=args.gamma)
    losses = []
    for epoch in range(1, args.epochs + 1):
        mnist_train(args, model, device, train_loader, optimizer, epoch)
        losses.append(mnist_test(model, device, test_loader))
        scheduler.step()

    if args.save_model:
        torch.save(model.state_dict(), os.path.join(save_dir, "mnist_cnn.pt"))
    return model, scheduler, losses


def test_mnist_example_style(tmp_path, capsys):
    model, scheduler, losses = mnist_main(
        ["--batch-size", "8", "--test-batch-size", "8", "--epochs", "2", "--log-interval", "1",
         "--no-cuda", "--save-model"], str(tmp_path))
    out = capsys.readouterr().out
    assert "Train Epoch: 1 [0/16 (0%)]" in out and "Train Epoch: 2 [8/16 (50%)]" in out
    assert out.count("Test set: Average loss:") == 2
    assert scheduler.get_last_lr() == pytest.approx([0.7 ** 2])
    assert all(np.isfinite(losses))
    state = torch.load(os.path.join(str(tmp_path), "mnist_cnn.pt"))
    assert list(state) == list(model.state_dict())
    fresh = MnistNet()
    fresh.load_state_dict(state)
    fresh.eval()
    model.eval()
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        np.testing.assert_array_equal(fresh(x).numpy(), model(x).numpy())


# ------------------------------------------------------------------------------ 2. CIFAR tutorial

class CifarNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 6, 5)
        self.pool = nn.MaxPool2d(2, 2)
        self.conv2 = nn.Conv2d(6, 16, 5)
        self.fc1 = nn.Linear(16 * 5 * 5, 120)
        self.fc2 = nn.Linear(120, 84)
        self.fc3 = nn.Linear(84, 10)

    def forward(self, x):
        x = self.pool(F.relu(self.conv1(x)))
        x = self.pool(F.relu(self.conv2(x)))
        x = torch.flatten(x, 1)
        x = F.relu(self.fc1(x))
        x = F.relu(self.fc2(x))
        x = self.fc3(x)
        return x


def test_cifar_tutorial_style(tmp_path, capsys):
    classes = ("plane", "car", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    torch.manual_seed(0)
    trainloader = DataLoader(_random_images(32, 3, 32, 32, 10, seed=2), batch_size=4,
                             shuffle=True)
    testloader = DataLoader(_random_images(16, 3, 32, 32, 10, seed=3), batch_size=4,
                            shuffle=False)
    net = CifarNet()
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(net.parameters(), lr=0.001, momentum=0.9)

    for epoch in range(2):
        running_loss = 0.0
        for i, data in enumerate(trainloader, 0):
            inputs, labels = data
            optimizer.zero_grad()
            outputs = net(inputs)
            loss = criterion(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item()
            if i % 4 == 3:
                print(f"[{epoch + 1}, {i + 1:5d}] loss: {running_loss / 4:.3f}")
                running_loss = 0.0
    print("Finished Training")

    PATH = os.path.join(str(tmp_path), "cifar_net.pth")
    torch.save(net.state_dict(), PATH)
    net = CifarNet()
    net.load_state_dict(torch.load(PATH, weights_only=True))

    correct = 0
    total = 0
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predicted = torch.max(outputs.data, 1)
            total += labels.size(0)
            correct += (predicted == labels).sum().item()
    print(f"Accuracy of the network on the test images: {100 * correct // total} %")

    correct_pred = {classname: 0 for classname in classes}
    total_pred = {classname: 0 for classname in classes}
    with torch.no_grad():
        for data in testloader:
            images, labels = data
            outputs = net(images)
            _, predictions = torch.max(outputs, 1)
            for label, prediction in zip(labels, predictions):
                if label == prediction:
                    correct_pred[classes[label]] += 1
                total_pred[classes[label]] += 1
    for classname, correct_count in correct_pred.items():
        if total_pred[classname]:
            accuracy = 100 * float(correct_count) / total_pred[classname]
            print(f"Accuracy for class: {classname:5s} is {accuracy:.1f} %")

    out = capsys.readouterr().out
    assert out.count("loss:") == 4 and "[2,     8] loss:" in out
    assert "Finished Training" in out and "Accuracy of the network" in out
    assert sum(total_pred.values()) == total == 16
    assert sum(correct_pred.values()) == correct


# ------------------------------------------------------------------------------ 3. ResNet

def conv3x3(in_planes, out_planes, stride=1):
    return nn.Conv2d(in_planes, out_planes, kernel_size=3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    expansion = 1

    def __init__(self, inplanes, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = conv3x3(inplanes, planes, stride)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = conv3x3(planes, planes)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x):
        identity = x
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.downsample is not None:
            identity = self.downsample(x)
        out += identity
        return self.relu(out)


class ResNet(nn.Module):
    """A torchvision-shaped ResNet, narrow (8..32 channels) so that a step takes milliseconds."""

    def __init__(self, block, layers, num_classes=10, width=8, zero_init_residual=False):
        super().__init__()
        self.inplanes = width
        self.conv1 = nn.Conv2d(3, width, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(block, width, layers[0])
        self.layer2 = self._make_layer(block, width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(block, width * 4, layers[2], stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(width * 4 * block.expansion, num_classes)

        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, (nn.BatchNorm2d, nn.GroupNorm)):
                nn.init.constant_(m.weight, 1)
                nn.init.constant_(m.bias, 0)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock) and m.bn2.weight is not None:
                    nn.init.constant_(m.bn2.weight, 0)

    def _make_layer(self, block, planes, blocks, stride=1):
        downsample = None
        if stride != 1 or self.inplanes != planes * block.expansion:
            downsample = nn.Sequential(
                nn.Conv2d(self.inplanes, planes * block.expansion, 1, stride=stride, bias=False),
                nn.BatchNorm2d(planes * block.expansion))
        layers = [block(self.inplanes, planes, stride, downsample)]
        self.inplanes = planes * block.expansion
        for _ in range(1, blocks):
            layers.append(block(self.inplanes, planes))
        return nn.Sequential(*layers)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer3(self.layer2(self.layer1(x)))
        x = torch.flatten(self.avgpool(x), 1)
        return self.fc(x)


def accuracy(output, target, topk=(1,)):
    """Percent of samples whose target is among the k highest scores, for each k in topk."""
    with torch.no_grad():
        maxk = max(topk)
        batch_size = target.size(0)
        _, pred = output.topk(maxk, 1, True, True)
        pred = pred.t()
        hits = pred.eq(target.view(1, -1).expand_as(pred))
        res = []
        for k in topk:
            hits_k = hits[:k].reshape(-1).float().sum(0, keepdim=True)
            res.append(hits_k.mul_(100.0 / batch_size))
        return res


def test_accuracy_topk():
    output = torch.tensor([[0.1, 0.5, 0.2, 0.0, 0.3, 0.05],
                           [0.9, 0.0, 0.05, 0.01, 0.02, 0.03],
                           [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]])
    target = torch.tensor([4, 0, 0])
    acc1, acc5 = accuracy(output, target, topk=(1, 5))
    assert acc1.shape == (1,) and acc1.item() == pytest.approx(100 / 3)
    assert acc5.item() == pytest.approx(200 / 3)


def _run_epochs(model, criterion, optimizer, scheduler, loader, start_epoch, epochs, ckpt,
                best_acc1):
    for epoch in range(start_epoch, epochs):
        model.train()
        for images, target in loader:
            output = model(images)
            loss = criterion(output, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        scheduler.step()
        model.eval()
        with torch.no_grad():
            images, target = next(iter(loader))
            acc1, acc5 = accuracy(model(images), target, topk=(1, 5))
        is_best = acc1.item() > best_acc1
        best_acc1 = max(acc1.item(), best_acc1)
        torch.save({"epoch": epoch + 1, "arch": "resnet_tiny", "state_dict": model.state_dict(),
                    "best_acc1": best_acc1, "optimizer": optimizer.state_dict(),
                    "scheduler": scheduler.state_dict()}, ckpt)
    return best_acc1, acc5


def _new_run(lr=0.1):
    model = ResNet(BasicBlock, [1, 1, 1])
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr, momentum=0.9, weight_decay=1e-4)
    scheduler = optim.lr_scheduler.StepLR(optimizer, step_size=1, gamma=0.1)
    return model, criterion, optimizer, scheduler


def test_resnet_checkpoint_resume(tmp_path):
    torch.manual_seed(0)
    loader = DataLoader(_random_images(16, 3, 32, 32, 10, seed=4), batch_size=8, shuffle=False)
    ckpt = os.path.join(str(tmp_path), "checkpoint.pth.tar")

    # one run of 3 epochs ...
    torch.manual_seed(1)
    straight = _new_run()
    _run_epochs(*straight, loader, 0, 3, ckpt + ".straight", 0.0)

    # ... equals 2 epochs, a checkpoint, and a resumed run of the last epoch
    torch.manual_seed(1)
    first = _new_run()
    best, _ = _run_epochs(*first, loader, 0, 2, ckpt, 0.0)
    model, criterion, optimizer, scheduler = _new_run(lr=0.5)           # fresh objects
    checkpoint = torch.load(ckpt)
    start_epoch = checkpoint["epoch"]
    best_acc1 = checkpoint["best_acc1"]
    model.load_state_dict(checkpoint["state_dict"])
    optimizer.load_state_dict(checkpoint["optimizer"])
    scheduler.load_state_dict(checkpoint["scheduler"])
    assert start_epoch == 2 and best_acc1 == best
    assert scheduler.get_last_lr() == pytest.approx([0.1 * 0.1 ** 2])
    _, acc5 = _run_epochs(model, criterion, optimizer, scheduler, loader, start_epoch, 3, ckpt,
                          best_acc1)
    assert 0.0 <= acc5.item() <= 100.0
    for (name, a), b in zip(model.state_dict().items(), straight[0].state_dict().values()):
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6, err_msg=name)
